package swap

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/lockfile"
)

// backupName returns a new name for a backup of target. Backups sort by
// name in the order they were made.
func backupName(target string) string {
	var b [4]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(target), fmt.Sprintf("%s%020d-%s", sidePrefix(target, backupTag), time.Now().UnixNano(), hex.EncodeToString(b[:])))
}

// Backups returns the backups of target, newest first.
func Backups(target string) []string {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(target), lockfile.GlobEscape(sidePrefix(target, backupTag))+"*"))
	slices.Sort(matches)
	slices.Reverse(matches)
	return matches
}

// backupRE matches the name of a backup and gives the name of the
// executable it backs up.
var backupRE = regexp.MustCompile(`^\.(.+)\.selfcompile-backup-[0-9]{20}-[0-9a-f]{8}$`)

// TargetOf returns the executable that the file at path is a backup of,
// if path is named as a backup: so that a backup, run as itself, can put
// itself back in place of a binary that no longer starts.
func TargetOf(path string) (string, bool) {
	m := backupRE.FindStringSubmatch(filepath.Base(path))
	if m == nil {
		return "", false
	}
	return filepath.Join(filepath.Dir(path), m[1]), true
}

// DisarmBackups takes their privileges from the backups of target: the one
// a swap just made, and any that an install killed before it could left.
// A backup that keeps them is removed. A backup that is the target's own
// file (Rollback's, until it removes it) is left alone.
func DisarmBackups(target string, logf func(string, ...any)) {
	for _, b := range Backups(target) {
		if fsutil.SameFile(b, target) {
			continue
		}
		if err := disarm(b); err != nil {
			logf("Removing the backup %s, which kept its privileges: %v", b, err)
			os.Remove(b)
		}
	}
}

// PruneBackups removes all but the newest keep backups of target. On
// Windows a backup that still runs cannot be removed; it is renamed for
// removal at the next start (RemoveAsides).
func PruneBackups(target string, keep int) {
	bs := Backups(target)
	for _, b := range bs[min(keep, len(bs)):] {
		if err := os.Remove(b); err != nil {
			os.Rename(b, sideName(target, asideTag))
		}
	}
}

// RemoveLeftovers removes what an earlier, killed install left beside
// target: the directories of new binaries and checks. The caller holds the
// install lock. Backups stay: PruneBackups keeps as many as asked.
func RemoveLeftovers(target string) {
	for _, tag := range []string{newTag, oldNewTag, checkTag} {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(target), lockfile.GlobEscape(sidePrefix(target, tag))+"*"))
		for _, m := range matches {
			os.RemoveAll(m)
		}
	}
}
