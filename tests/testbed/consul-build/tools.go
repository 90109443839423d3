//go:build tools

package consulbuild

import _ "github.com/hashicorp/consul"
