package engine

// defaultExecutors maps every operation type to the function that performs it. One line per type.
func defaultExecutors() map[string]Executor {
	return map[string]Executor{
		TypeNoop:                  runNoop,
		TypeDirectoryGroupsSync:   runGroupsSync,
		TypeDirectoryRoleDefsSync: runRoleDefinitionsSync,
		TypeProviderVerification:  runVerification,
		TypeInventorySync:         runInventorySync,
		TypeBackupRun:             runBackup,
		TypeBackupScheduled:       runBackup,
		TypeRestoreExecute:        runRestore,
	}
}
