// Package aplugin is an example plugin for example/abinary. Like every
// plugin, it does its work in init: importing it is installing it.
package aplugin

import "fmt"

func init() {
	fmt.Println("aplugin activated.")
}
