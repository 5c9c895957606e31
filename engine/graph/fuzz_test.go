package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantatlas/tenantatlas/engine/reason"
)

// Seeds: the documented bodies of docs/graph.md (Paging, Delta, Errors).
var pageSeeds = []string{
	`{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#groups","value":[{"id":"45b7d2e7-b882-4a80-ba97-10b7a63b8fa4","createdDateTime":"2018-12-22T02:21:05Z","description":"Self help community for golf","displayName":"Golf Assist","groupTypes":["Unified"],"mailEnabled":true,"mailNickname":"golfassist","membershipRule":null,"securityEnabled":false,"visibility":"Public"}]}`,
	`{"value":[{"@odata.type":"#microsoft.graph.deviceConfiguration","id":"34977265-7265-3497-6572-973465729734","lastModifiedDateTime":"2017-01-01T00:00:35.1329464-08:00","createdDateTime":"2017-01-01T00:02:43.5775965-08:00","description":"Description value","displayName":"Display Name value","version":7}],"@odata.nextLink":"https://graph.microsoft.com/beta/deviceManagement/deviceConfigurations?$skiptoken=x"}`,
	`{"@odata.deltaLink":"https://graph.microsoft.com/v1.0/groups/delta?$deltatoken=sZwAF","value":[{"displayName":"TestGroup3","id":"2e5807ce-58f3-4a94-9b37-ffff2e085957","members@delta":[{"@odata.type":"#microsoft.graph.user","id":"632f6bb2","@removed":{"reason":"deleted"}},{"@odata.type":"#microsoft.graph.user","id":"37de1ae3"}]}]}`,
	`{"value":[{"id":"a","@removed":{"reason":"changed"}}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/groups/delta?$skiptoken=y"}`,
	`{"value":[]}`,
	`{"value":[{"id":"x"}`,
	`{"value":[1,2],"value":[]}`,
	`<html>`,
}

func FuzzDecodePage(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var items []json.RawMessage
		var early []string
		links, err := decodePage(bytes.NewReader(data), rawItems(func(raw json.RawMessage) bool {
			items = append(items, raw)
			return true
		}), func(next string) { early = append(early, next) })
		if err != nil {
			return
		}
		// A next page requested early is one the page really names.
		if len(early) > 0 {
			require.NotEmpty(t, links.NextLink)
		}
		require.Equal(t, links.Items, len(items))
		require.False(t, links.NextLink != "" && links.DeltaLink != "")
		for _, it := range items {
			require.True(t, json.Valid(it), "every yielded item is valid JSON")
		}
		// A page that decodes is valid JSON as a whole.
		require.True(t, json.Valid(data))
	})
}

func FuzzDecodeDeltaItem(f *testing.F) {
	for _, s := range []string{
		`{"id":"2e5807ce-58f3-4a94-9b37-ffff2e085957","displayName":"TestGroup3"}`,
		`{"id":"632f6bb2","@removed":{"reason":"deleted"}}`,
		`{"id":"632f6bb2","@removed":{"reason":"changed"}}`,
		`{"id":"x","@removed":{}}`,
		`{"@removed":{"reason":"deleted"}}`,
		`{"id":5}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := decodeDeltaItem(data)
		if err != nil {
			return
		}
		require.NotEmpty(t, it.ID)
		if it.Removed {
			require.NotEmpty(t, it.RemovedReason)
		}
	})
}

func FuzzClassifyResponse(f *testing.F) {
	bodies := []string{
		`{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2021-07-29T05:00:42","request-id":"788c7bdc","client-request-id":"788c7bdc"}}}`,
		`{"error":{"code":"Forbidden","message":"{\r\n \"_version\": 3,\r\n \"Message\": \"Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementConfiguration.Read.All, DeviceManagementConfiguration.ReadWrite.All - Operation ID (for customer support): 00000000 - Activity ID: 2578f4a3 - Url: https://fef.msub05.manage.microsoft.com/\",\r\n \"CustomApiErrorPhrase\": \"\",\r\n \"RetryAfter\": null,\r\n \"ErrorSourceService\": \"\",\r\n \"HttpHeaders\": \"{}\"\r\n}","innerError":{}}}`,
		`{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52","status":"429"},"message":"Please retry again later."}}`,
		`{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist or one of its queried reference-property objects are not present."}}`,
		`{"error":{"code":"syncStateNotFound","message":"The sync state generation is not found. The delta token is expired and data must be synchronized again."}}`,
		`{"error":{"code":"ModelValidationFailure","message":"A type named 'microsoft.graph.windows10GeneralConfiguration' could not be resolved"}}`,
		`{"error":{"code":"NotSupported","message":"SecretReferenceValueId invalid for create"}}`,
		`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}`,
		`not json`,
		``,
	}
	for _, b := range bodies {
		for _, status := range []int{400, 401, 403, 404, 410, 429, 500, 503} {
			f.Add(status, []byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 400 || status > 599 {
			return
		}
		e := ClassifyResponse(status, nil, body, nil)
		require.True(t, reason.Known(e.Reason), "%q is a taxonomy code", e.Reason)
		require.Equal(t, status, e.Status)
		require.NotEmpty(t, e.Error())
		if errors.Is(e, ErrDeltaExpired) {
			require.Contains(t, []int{400, 410}, status)
		}
		for _, p := range e.MissingPermissions {
			require.NotEmpty(t, p)
		}
	})
}
