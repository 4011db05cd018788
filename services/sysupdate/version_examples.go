package sysupdate

// VersionExamples are pairs of versions and their order (CompareVersions(A, B) == Want):
// the unit tests check them, and integration's TestSysupdateCompareVersions checks them
// against upstream's `systemd-analyze compare-versions`.
var VersionExamples = []struct {
	A, B string
	Want int
}{
	{"1", "2", -1},
	{"2", "1", 1},
	{"1", "1", 0},
	{"1.2", "1.10", -1},
	{"1.02", "1.2", 0},
	{"123", "123a", -1},
	{"123a", "123.a", 1},
	{"123.a", "123", 1},
	{"1~rc1", "1", -1},
	{"1~rc1", "1~rc2", -1},
	{"1~", "1", -1},
	{"1-1", "1.1", -1},
	{"1^1", "1", 1},
	{"1^1", "1.1", -1},
	{"1-9", "1.0-1", -1},
	{"247.2-3.1.fc33.x86_64", "247.2-3.1.fc33.x86_64", 0},
	{"5.11.0-0.rc5.20210128git76c057c84d28.137.fc34", "5.11.0-0.rc5.20210128git76c057c84d28.138.fc34", -1},
	{"a", "b", -1},
	{"abc", "abcd", -1},
	{"1_a", "1a", 0},
	{"", "1", -1},
	{"", "", 0},
	{"1", "", 1},
	{"abc", "1", -1},
	{"00", "0", 0},
	{"1.0", "1", 1},
	{"1..0", "1.0", -1},
	{"foo-1.2", "foo-1.10", -1},
	{"2024.01.15", "2024.1.16", -1},
	{"1+git", "1", 1},
}
