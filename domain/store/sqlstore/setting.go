package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/notifyhub/notifyhub/domain"
)

// Setting returns the value stored under key; domain.ErrNotFound when none.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", key, domain.ErrNotFound)
	}
	if err != nil {
		return "", s.wrap("get setting", err)
	}
	return v, nil
}

// PutSettingIfAbsent stores value under key unless a value is there already,
// and returns the value stored after the call: the first writer wins, every
// concurrent caller gets the winner's value.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("put setting: %w", domain.Invalid("key", "required"))
	}
	_, err := s.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value)
	if err != nil {
		return "", s.wrap("put setting", err)
	}
	return s.Setting(ctx, key)
}

// SwapSetting replaces the value under key with value only if it is still
// old, and reports whether it did: of concurrent swappers from the same old
// value exactly one wins.
func (s *Store) SwapSetting(ctx context.Context, key, old, value string) (bool, error) {
	res, err := s.exec(ctx, `UPDATE settings SET value = ? WHERE key = ? AND value = ?`, value, key, old)
	if err != nil {
		return false, s.wrap("swap setting", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap("swap setting", err)
	}
	return n == 1, nil
}

// HoldSetting keeps the setting under key from changing until the
// transaction ends (a shared lock: holders do not block each other). A
// relay holds the stream epoch while it publishes, so a relay swapping the
// epoch waits for publishes in flight and then requeues them too. A missing
// key holds nothing. Call it inside InTx.
func (s *Store) HoldSetting(ctx context.Context, key string) error {
	var one int
	err := s.queryRow(ctx, `SELECT 1 FROM settings WHERE key = ?`+s.d.ShareRows(), key).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s.wrap("hold setting", err)
	}
	return nil
}

// PutSetting stores value under key, replacing what was there.
func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	if key == "" {
		return fmt.Errorf("put setting: %w", domain.Invalid("key", "required"))
	}
	_, err := s.exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return s.wrap("put setting", err)
	}
	return nil
}
