package unit

// The table of docs/systemd.unit.md saying what stead does with every setting
// upstream knows, observed by loading each with this package's loader.
//go:generate go run ./internal/settingstable/cmd ../../docs/systemd.unit.md
