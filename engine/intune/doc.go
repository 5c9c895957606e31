// Package intune is what TenantAtlas knows about Intune (and Entra) configuration objects, shared
// by every operation that touches them: normalization and hashing (so identical configuration
// hashes identically), policy-type classification, the backup payload format, and the field-level
// diff that drift and the restore preview show. Knowledge of one family belongs here, not spread
// over the operations that read it.
package intune
