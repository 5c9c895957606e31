package engine

// DecodeGroup exposes decodeGroup to the engine_test package.
var DecodeGroup = decodeGroup
