package redisstream

import (
	"errors"

	"github.com/redis/go-redis/v9"
)

// Redis reports these conditions only as error text; keep the prefix
// matching in this one place.

// isNoGroup reports a missing consumer group (or a missing key) on
// XREADGROUP / XAUTOCLAIM / XPENDING.
func isNoGroup(err error) bool { return redis.HasErrorPrefix(err, "NOGROUP") }

// isBusyGroup reports that XGROUP CREATE found the group already there.
func isBusyGroup(err error) bool { return redis.HasErrorPrefix(err, "BUSYGROUP") }

// isNoKey reports a command that needs the stream key to exist
// (XINFO GROUPS, XGROUP DESTROY) run on a missing one. redis.HasErrorPrefix
// strips the leading "ERR ".
func isNoKey(err error) bool {
	return redis.HasErrorPrefix(err, "no such key") ||
		redis.HasErrorPrefix(err, "The XGROUP subcommand requires the key to exist")
}

// isServerReply reports an error that Redis answered with, as opposed to a
// network or client failure: the connection that carried it is still good.
func isServerReply(err error) bool {
	if err == nil {
		return true
	}
	var re redis.Error // redis.Nil is one too
	return errors.As(err, &re)
}
