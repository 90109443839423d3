//go:build tools

package terraformbuild

import _ "github.com/hashicorp/terraform"
