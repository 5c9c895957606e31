// Package restore is the restore.execute operation: Plan works out, from the database alone, what
// restoring a backup set's items into a tenant would write (the preview the service shows and the
// ledger rows it records), and Run applies them through that ledger so that no object is ever
// written twice.
package restore
