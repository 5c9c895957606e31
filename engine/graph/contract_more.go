package graph

import "net/http"

// More Intune families (issue #18 item 4): device categories, terms and conditions and macOS
// custom attribute scripts, appended to the registry's family table (contract.go). Permissions
// from the Learn pages (docs:X = learn.microsoft.com/graph/api/X):
//   - intune-onboarding-devicecategory-list: "DeviceManagementConfiguration.Read.All, …,
//     DeviceManagementManagedDevices.Read.All" (least privileged first); writes with the
//     ReadWrite variant (the create page was not read: **unverified**).
//   - intune-companyterms-termsandconditions-list: DeviceManagementServiceConfig.Read.All
//     (ReadWrite to write); assignments one per POST …/{id}/assignments
//     (intune-companyterms-termsandconditionsassignment-create, 201).
//   - intune-devices-devicecustomattributeshellscript-list: DeviceManagementScripts.Read.All;
//     -update: DeviceManagementScripts.ReadWrite.All; assign action with
//     deviceManagementScriptAssignments (-assign).
const (
	FamilyDeviceCategories                  Family = "deviceCategories"
	FamilyTermsAndConditions                Family = "termsAndConditions"
	FamilyDeviceCustomAttributeShellScripts Family = "deviceCustomAttributeShellScripts"
)

var moreIntuneFamilies = []FamilyInfo{
	noAssignments(intune(FamilyDeviceCategories, "/deviceManagement/deviceCategories", permConfigRead, permConfigWrite, "Device categories")),
	intune(FamilyTermsAndConditions, "/deviceManagement/termsAndConditions", permServiceRead, permServiceWrite, "Terms and conditions"),
	withAssignKey(intune(FamilyDeviceCustomAttributeShellScripts, "/deviceManagement/deviceCustomAttributeShellScripts", permScriptsRead, permScriptsWrite,
		"macOS custom attribute scripts"), assignKeyScripts),
}

// addMoreIntuneContracts registers what the generic Intune contracts do not cover.
func addMoreIntuneContracts(add func(Contract)) {
	add(Contract{Name: "termsAndConditions.createAssignment", Family: FamilyTermsAndConditions, Kind: KindAction, Method: http.MethodPost,
		Path: "/deviceManagement/termsAndConditions/{id}/assignments", Doc: "create one group assignment (201)"})
}
