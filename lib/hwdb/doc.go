// Package hwdb reads udev hardware database source files (*.hwdb) and answers queries on them
// the way systemd's compiled hwdb does, without compiling anything: the text files are parsed
// at load time and kept in memory.
//
// A query string (a modalias such as "dmi:bvnAmazonEC2:…") is compared with every match
// pattern; the properties of all matching records are merged, later files and later lines
// winning. Load reads udev's directories under a root prefix plus directories of the caller;
// ParseFile reads one file; Fnmatch and Match are the wildcard matchers.
//
// Parsing, file order, masking and merging follow systemd-hwdb 262, and Fnmatch follows glibc
// 2.43's fnmatch(3); both were checked against those programs (the tests keep the observed
// cases). Over upstream's complete hwdb.d, 3000 queries built from its own patterns gave the
// same properties as "systemd-hwdb query".
//
// Differences from systemd-hwdb, all in corner cases no shipped hwdb file relies on:
//   - systemd walks a trie and may also follow a '*', '?' or '[' of a pattern as a literal
//     byte when the query holds the same byte at that place, depending on how the trie happens
//     to be shaped by the other patterns. Match always treats the first such byte as the start
//     of the wildcard part, so a query containing literal '[' can miss a record upstream would
//     find (and never the other way round).
//   - systemd-hwdb queries a compiled hwdb.bin; here the text files are the database, so a
//     change is seen at the next Load without running "systemd-hwdb update".
package hwdb
