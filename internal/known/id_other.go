//go:build !unix

package known

import "os"

// Of returns the zero ID: this platform gives no change time.
func Of(*os.File) ID { return ID{} }

// OfPath returns the zero ID: this platform gives no change time.
func OfPath(string) ID { return ID{} }
