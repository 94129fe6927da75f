package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/notifyhub/notifyhub/domain"
)

const userCols = `u.tenant_id, u.id, u.name, u.email, u.perms`

func scanUser(sc scanner) (domain.User, error) {
	var (
		u     domain.User
		perms []byte
	)
	if err := sc.Scan(&u.TenantID, &u.ID, &u.Name, &u.Email, &perms); err != nil {
		return u, err
	}
	if err := json.Unmarshal(perms, &u.Perms); err != nil {
		return u, fmt.Errorf("decode perms of user %s: %w", u.ID, err)
	}
	if u.Perms == nil {
		u.Perms = []string{}
	}
	return u, nil
}

// encPerms is the canonical form of a permission set: sorted, without
// duplicates or empty strings, so that equal sets compare equal as text.
func encPerms(perms []string) string {
	c := make([]string, 0, len(perms))
	for _, p := range perms {
		if p != "" {
			c = append(c, p)
		}
	}
	slices.Sort(c)
	c = slices.Compact(c)
	raw, _ := json.Marshal(c) // a []string always encodes
	return string(raw)
}

// UpsertTenant creates the tenant or renames it.
func (s *Store) UpsertTenant(ctx context.Context, id domain.TenantID, name string) error {
	if err := requireTenant(id); err != nil {
		return fmt.Errorf("upsert tenant: %w", err)
	}
	_, err := s.exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE tenants.name <> excluded.name`,
		id, name, encTime(now()))
	if err != nil {
		return s.wrap("upsert tenant", err)
	}
	return nil
}

// ensureTenant creates the tenant row, named after its id, if missing.
func (s *Store) ensureTenant(ctx context.Context, id domain.TenantID) error {
	_, err := s.exec(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		id, string(id), encTime(now()))
	if err != nil {
		return s.wrap("ensure tenant", err)
	}
	return nil
}

// UpsertUser creates the user (and the tenant if missing), or updates name,
// email and perms when they differ. Perms are stored as a sorted set.
func (s *Store) UpsertUser(ctx context.Context, u domain.User) error {
	return s.UpsertUsers(ctx, []domain.User{u})
}

// maxUsersPerUpsert keeps one statement's parameters (7 a user) far below
// every dialect's limit.
const maxUsersPerUpsert = 500

// UpsertUsers is UpsertUser for several users: one statement per 500 users.
// A user given twice keeps the values given last.
//
// Every user's first request after a start comes here (the web layer's
// cache skips it afterwards, and gathers concurrent first requests into one
// call), so a reconnect storm is a burst of these: each statement is tried
// alone first (upsertWith). A socket's first connect comes through
// RecordInboxHeads instead, which adds its catch-up read to the statement.
func (s *Store) UpsertUsers(ctx context.Context, users []domain.User) error {
	rows, err := userRows(users)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(rows, maxUsersPerUpsert) {
		err := s.upsertWith(ctx, chunk, func(ctx context.Context) error {
			if s.pgArrays() {
				_, err := s.exec(ctx, pgUpsertUsersQuery, pgUpsertUsersArgs(chunk)...)
				return err
			}
			var q strings.Builder
			q.WriteString(`WITH `)
			args := writeTenantShares(&q, make([]any, 0, 8*len(chunk)), chunk, s.d.ShareRows())
			q.WriteString(` `)
			args = writeUpsertUsers(&q, args, chunk)
			_, err := s.exec(ctx, q.String(), args...)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// userRows checks users and returns them once each (the last given wins),
// in key order.
func userRows(users []domain.User) ([]domain.User, error) {
	rows := make([]domain.User, 0, len(users))
	at := map[userRowKey]int{}
	for _, u := range users {
		if err := requireUser(u.TenantID, u.ID); err != nil {
			return nil, fmt.Errorf("upsert user: %w", err)
		}
		// One statement may not touch a row twice (PostgreSQL refuses it).
		if i, ok := at[userRowKey{u.TenantID, u.ID}]; ok {
			rows[i] = u
			continue
		}
		at[userRowKey{u.TenantID, u.ID}] = len(rows)
		rows = append(rows, u)
	}
	// Rows are locked in key order, so that batches of two nodes that
	// share users cannot deadlock.
	slices.SortFunc(rows, func(a, b domain.User) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.ID, b.ID))
	})
	return rows, nil
}

type userRowKey struct {
	tenant domain.TenantID
	user   domain.UserID
}

// upsertWith runs write, a statement that upserts users (and may do more).
// Outside a transaction it is tried alone first: one round trip and one
// commit. Only when a tenant row is missing (the foreign key refuses the
// statement, and nothing was written) or the statement lost a race does
// it run again, after the tenants', in a transaction.
func (s *Store) upsertWith(ctx context.Context, users []domain.User, write func(context.Context) error) error {
	if !s.inTx(ctx) {
		err := write(ctx)
		if err == nil {
			return nil
		}
		if k := s.kind(err); k != KindForeignKeyViolation && k != KindRetryable {
			return s.wrap("upsert user", err)
		}
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		var tenants []domain.TenantID
		for _, u := range users {
			if !slices.Contains(tenants, u.TenantID) {
				tenants = append(tenants, u.TenantID)
			}
		}
		for _, t := range tenants {
			if err := s.ensureTenant(ctx, t); err != nil {
				return err
			}
		}
		if err := write(ctx); err != nil {
			return s.wrap("upsert user", err)
		}
		return nil
	})
}

// writeTenantShares writes the CTE tl of the tenants of users (sorted by
// tenant): their broadcast counters, share-locked with share (the
// dialect's clause) in id order before any user row, as every insert of
// a notification locks them (see broadcast.go).
func writeTenantShares(q *strings.Builder, args []any, users []domain.User, share string) []any {
	q.WriteString(`tl AS MATERIALIZED (SELECT id, broadcast_seq FROM tenants WHERE id IN (`)
	for i, u := range users {
		if i > 0 && u.TenantID == users[i-1].TenantID {
			continue
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, u.TenantID)
	}
	q.WriteString(`) ORDER BY id` + share + `)`)
	return args
}

// writeUpsertUsers writes the upsert of users into q and returns args with
// its parameters: a changed user's name, email and perms are updated, an
// unchanged one is left as it is. A new user starts after the broadcasts
// their tenant had (from the CTE tl of writeTenantShares, which must
// precede it).
func writeUpsertUsers(q *strings.Builder, args []any, users []domain.User) []any {
	q.WriteString(`INSERT INTO users (tenant_id, id, name, email, perms, created_at, updated_at, broadcast_base) VALUES `)
	at := encTime(now())
	for i, u := range users {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, COALESCE((SELECT broadcast_seq FROM tl WHERE tl.id = ?), 0))")
		args = append(args, u.TenantID, u.ID, u.Name, u.Email, encPerms(u.Perms), at, at, u.TenantID)
	}
	q.WriteString(upsertUserConflict)
	return args
}

// upsertUserConflict is what an upsert does with a user that has a row:
// a changed name, email or perms is written, an unchanged user is left
// alone (no new row version).
const upsertUserConflict = ` ON CONFLICT (tenant_id, id) DO UPDATE SET
		name = excluded.name, email = excluded.email, perms = excluded.perms, updated_at = excluded.updated_at
		WHERE users.name <> excluded.name OR users.email <> excluded.email OR users.perms <> excluded.perms`

// pgUpsertUsersCTE is the upsert of users on PostgreSQL, as writeTenantShares
// and writeUpsertUsers write it elsewhere, with the users bound as arrays
// (pgUpsertUsersArgs): one statement text whatever their number, where a
// list of placeholders made a new text to parse and plan for nearly every
// batch. r holds the users in key order, tl their tenants' counters
// share-locked in id order before any user row, w the upsert in key order
// (so two nodes recording the same users cannot deadlock), returning the
// figures of each row it wrote.
const pgUpsertUsersCTE = `r AS (
		SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]), CAST(? AS text[]))
		WITH ORDINALITY AS r(tenant_id, id, name, email, perms, k)
	), tl AS MATERIALIZED (
		SELECT id, broadcast_seq FROM tenants WHERE id IN (SELECT tenant_id FROM r) ORDER BY id FOR SHARE
	), w AS (
		INSERT INTO users (tenant_id, id, name, email, perms, created_at, updated_at, broadcast_base)
		SELECT r.tenant_id, r.id, r.name, r.email, CAST(r.perms AS jsonb), ?, ?,
			COALESCE((SELECT broadcast_seq FROM tl WHERE tl.id = r.tenant_id), 0)
		FROM r ORDER BY r.k` + upsertUserConflict + `
		RETURNING tenant_id, id, notification_seq, unread_count, broadcast_base
	)`

// pgUpsertUsersQuery is UpsertUsers' statement on PostgreSQL.
const pgUpsertUsersQuery = `WITH ` + pgUpsertUsersCTE + ` SELECT count(*) FROM w`

// pgUpsertUsersArgs are the arguments of pgUpsertUsersCTE for users (in
// key order, as userRows returns them): five text[] (tenant, id, name,
// email, perms as JSON), then created_at and updated_at.
func pgUpsertUsersArgs(users []domain.User) []any {
	var cols [5]pgArray
	for _, u := range users {
		cols[0].text(string(u.TenantID))
		cols[1].text(string(u.ID))
		cols[2].text(u.Name)
		cols[3].text(u.Email)
		cols[4].text(encPerms(u.Perms))
	}
	at := encTime(now())
	return append(arrayArgs(cols[:]), at, at)
}

// GetUser returns one user of the tenant; domain.ErrNotFound when unknown.
func (s *Store) GetUser(ctx context.Context, tenant domain.TenantID, id domain.UserID) (domain.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.tenant_id = ? AND u.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.User{}, fmt.Errorf("get user %q: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return domain.User{}, s.wrap("get user", err)
	}
	return u, nil
}

// ListUsers lists the tenant's known users ordered by id.
func (s *Store) ListUsers(ctx context.Context, tenant domain.TenantID) ([]domain.User, error) {
	return s.listUsers(ctx, "list users", `SELECT `+userCols+` FROM users u WHERE u.tenant_id = ? ORDER BY u.id`, tenant)
}

// UsersWithPermission lists the tenant's known users holding perm directly
// or through admin, ordered by id.
func (s *Store) UsersWithPermission(ctx context.Context, tenant domain.TenantID, perm string) ([]domain.User, error) {
	if perm == "" {
		return nil, fmt.Errorf("users with permission: %w", domain.Invalid("permission", "required"))
	}
	q := `SELECT ` + userCols + ` FROM users u` + permHoldersJoin + ` WHERE u.tenant_id = ? ORDER BY u.id`
	return s.listUsers(ctx, "users with permission", q, tenant, perm, domain.PermAdmin, tenant)
}

// permHoldersJoin narrows users u to the holders of a permission, directly
// or through admin; its arguments are the tenant, the permission and
// admin. It reads user_perms (kept equal to users.perms by triggers,
// migration 00019) first, so the holders are one index range however many
// users the tenant has. Written as a join on the distinct holders, not as
// IN or EXISTS: without statistics (a fresh tenant's tables) PostgreSQL
// would drive those from users, reading every user of the tenant.
const permHoldersJoin = ` JOIN (SELECT DISTINCT p.user_id FROM user_perms p WHERE p.tenant_id = ? AND p.perm IN (?, ?)) h ON h.user_id = u.id`

func (s *Store) listUsers(ctx context.Context, op, q string, args ...any) ([]domain.User, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	defer rows.Close()
	out := []domain.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	return out, nil
}
