package trace

import (
	"context"

	"github.com/encoderlab/encoderlab/sim/model"
)

// The PMS and PN532 models register these protocols from their packages
// (sim/device/...), which import this one; this package's tests register
// the same protocols under the same names, with no device behind them.
func init() {
	noDevice := func(model.Settings) (model.Device, model.Serve) {
		return nil, func(context.Context, model.Line) error { return nil }
	}
	model.Register(model.Model{Name: "pms", New: noDevice, Protocol: &model.Protocol{
		NewDecoder: NewPMSDecoder, RedactFields: PMSRedactFields, NewRedactor: NewPMSRedactor}})
	model.Register(model.Model{Name: "pn532", New: noDevice, Protocol: &model.Protocol{
		NewDecoder: NewPN532Decoder, RedactFields: PN532RedactFields, NewRedactor: NewPN532Redactor}})
}
