package plugincmd

import (
	"os"
	"testing"

	"github.com/shazow/go-selfcompile/internal/testutil"
)

// TestMain gives the tests a user cache of their own: the plugin command's
// dry runs plan with the default cache, which is the user's.
func TestMain(m *testing.M) {
	os.Exit(testutil.RunPrivate(m))
}
