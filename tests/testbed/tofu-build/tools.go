//go:build tools

package tofubuild

import _ "github.com/opentofu/opentofu/cmd/tofu"
