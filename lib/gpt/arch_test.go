package gpt

import "runtime"

func runtimeGOARCH() string { return runtime.GOARCH }
