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
