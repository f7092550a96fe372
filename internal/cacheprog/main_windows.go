package cacheprog

// Windows has no sh to give the protocol a descriptor of its own: the
// go command is given the user's GOCACHEPROG as it is.
const haveShell = false

// Main does nothing on Windows, where Command starts no proxy.
func Main() {}
