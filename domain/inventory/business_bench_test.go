package inventory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/product"
	"github.com/notifyhub/notifyhub/domain/store/storetest"
)

// BenchmarkRecordPostgres is the loadgen's business command, one at a
// time: a movement out at the default location crossing the reorder level.
// Its time is mostly round trips while the product is locked.
func BenchmarkRecordPostgres(b *testing.B) {
	s := storetest.OpenPostgres(b)
	f := fixture{store: s}
	svc := inventory.NewService(s, nil)
	ctx := context.Background()
	ids := make([]string, b.N)
	for i := range ids {
		p := benchProduct(b, f, i)
		if _, err := svc.Record(ctx, acme, inventory.RecordInput{ProductID: p, Quantity: 20, Reason: "stock"}); err != nil {
			b.Fatal(err)
		}
		ids[i] = p
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := svc.Record(ctx, acme, inventory.RecordInput{ProductID: ids[i], Quantity: -15, Reason: "sale"}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchProduct(b *testing.B, f fixture, i int) string {
	b.Helper()
	price, reorder := decimal.RequireFromString("10"), int64(10)
	p, err := product.NewService(f.store, nil).Create(context.Background(), acme,
		product.CreateInput{SKU: fmt.Sprintf("BENCH-%d", i), Name: "bench", Price: &price, ReorderLevel: &reorder})
	if err != nil {
		b.Fatal(err)
	}
	return p.ID
}
