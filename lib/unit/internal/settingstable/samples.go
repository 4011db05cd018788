package settingstable

import "strings"

// samples are plausible values for settings whose value the loader checks,
// "Section.Key" → value. They only need to be valid: the status comes from
// what the loader does with them. Settings not listed get a value from
// sampleByName.
var samples = map[string]string{}

// sampleValue is the value a setting is tried with.
func sampleValue(sec, key string) string {
	if v, ok := samples[sec+"."+key]; ok {
		return v
	}
	return sampleByName(key)
}

// sampleByName guesses a value from the shape of a setting's name.
func sampleByName(key string) string {
	switch {
	case strings.HasPrefix(key, "Exec"):
		return "/bin/true"
	case strings.HasSuffix(key, "Sec"):
		return "5s"
	}
	return "yes"
}
