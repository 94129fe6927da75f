package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/notifyhub/notifyhub/domain"
)

// RestartSetting is the settings key of the restart marker.
const RestartSetting = "queue_restart"

// SettingStore reads and writes settings rows.
type SettingStore interface {
	Setting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error
}

// RequestRestart asks every running worker to finish the job in hand and
// exit (status 0), for its supervisor to start it again: it sets the
// restart marker, which workers poll (runner.QueueConfig.Restart). A new
// id each time, so two requests within a clock tick are both seen.
func RequestRestart(ctx context.Context, s SettingStore, now time.Time) error {
	v := now.UTC().Format(time.RFC3339Nano) + " " + domain.NewID()
	if err := s.PutSetting(ctx, RestartSetting, v); err != nil {
		return fmt.Errorf("request restart: %w", err)
	}
	return nil
}

// RestartMarker reads the marker for runner.QueueConfig.Restart; "" when
// no restart was ever requested.
func RestartMarker(s SettingStore) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		v, err := s.Setting(ctx, RestartSetting)
		if errors.Is(err, domain.ErrNotFound) {
			return "", nil
		}
		return v, err
	}
}
