// Pins the Terraform providers of the Terraform test bed (module proxy
// versions; the Terraform registry is not reachable from the build machines).
// Nothing imports them here: scripts/build-terraform.sh downloads each module
// through this file (so go.sum verifies the module's hash), copies its source
// to the cache and builds it there with the provider's own go.mod and go.sum
// (-mod=readonly), so each provider gets exactly the dependency versions its
// authors tested. The AWS provider's copy is narrowed to the services the
// modules use before it is built (see the script).
module consulecs.test/providersbuild

go 1.26.3

require (
	github.com/hashicorp/terraform-provider-aws v1.60.1-0.20260602190131-5f2286d6d836
	github.com/hashicorp/terraform-provider-tls v1.2.1-0.20260819085117-d044ca7c6f52
	github.com/terraform-providers/terraform-provider-random v1.3.2-0.20260824155315-e1092b0cfc07
)
