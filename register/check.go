package register

import "strings"

// The register's one text rule and one email rule, for every way in: the
// referral and the import (through validator), the workflow's update
// validators, the API and the web forms.

// CheckText records in fields the problem with a free-text value, if any:
// missing when required, longer than max characters, or holding a NUL
// (which PostgreSQL cannot store, so it must be refused here and not meet
// the database as a failed write).
func CheckText(fields map[string]string, path, s string, max int, required bool) {
	v := validator{fields: fields}
	if v.text(path, s, max) && required && strings.TrimSpace(s) == "" {
		v.fail(path, "is required")
	}
}

// CheckEmail records in fields the problem with an email address, if any:
// missing when required, or not a bare address (see NormaliseEmail).
func CheckEmail(fields map[string]string, path, s string, required bool) {
	v := validator{fields: fields}
	v.email(path, s, required)
}
