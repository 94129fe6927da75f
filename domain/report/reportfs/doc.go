// Package reportfs keeps report files on disk, under a data directory:
//
//	<data dir>/reports/<tenant folder>/<report id>.json
//
// The tenant folder is derived from the tenant id alone: its lower-cased
// letters, digits and dashes (at most 64, anything else as "_"), a dash,
// and 32 hex digits of its SHA-256. So it is never "." or "..", never holds
// a separator, differs for ids that differ only in case (on
// case-insensitive file systems too), and stays short; the readable part
// is there for operators. Every access goes through an os.Root opened on
// the data directory, so not even a symbolic link planted inside it leads
// out. Files are written to a temporary file in the same folder, synced,
// then renamed over the final name: a reader sees the old file or the new
// one, never half of one.
//
// In distributed mode the data directory must be storage every worker and
// web node shares (a mounted volume): a worker writes the file, any web
// node serves it.
package reportfs
