package procurement_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/notifyhub/notifyhub/domain"
	"github.com/notifyhub/notifyhub/domain/inventory"
	"github.com/notifyhub/notifyhub/domain/procurement"
	"github.com/notifyhub/notifyhub/domain/store/sqlstore"
)

func TestReceivePartlyThenFully(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel")
		a, b := f.product(t, buyer, "A"), f.product(t, buyer, "B")
		po := f.approved(t, v.ID,
			procurement.LineInput{ProductID: a.ID, Quantity: 10, UnitCost: dec("2.5")},
			procurement.LineInput{ProductID: b.ID, Quantity: 5, UnitCost: dec("7")})

		// First delivery: 6 of A in two batches, by product; 2 of B by line
		// at a negotiated cost.
		r1, err := f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{
			{ProductID: a.ID, Quantity: 4, BatchNumber: " L-1 ", ExpiryDate: "2027-01-31"},
			{ProductID: a.ID, Quantity: 2, BatchNumber: "L-2", ExpiryDate: "2027-02-28"},
			{LineNo: intp(2), Quantity: 2, UnitCost: dec("6.5")},
		}})
		require.NoError(t, err)
		require.Len(t, r1.Lines, 3)
		require.Equal(t, "L-1", r1.Lines[0].BatchNumber)
		require.Equal(t, 1, r1.Lines[1].LineNo)
		require.Equal(t, "2.5", r1.Lines[0].UnitCost.String(), "the line's cost by default")
		require.Equal(t, "6.5", r1.Lines[2].UnitCost.String())
		main, err := f.store.DefaultLocation(ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, main.ID, r1.LocationID)
		require.Equal(t, domain.UserID("cal"), r1.ReceivedBy)

		got, err := f.svc.GetPurchaseOrder(ctx, "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusPartiallyReceived, got.Status)
		require.EqualValues(t, 6, got.Lines[0].ReceivedQuantity)
		require.EqualValues(t, 2, got.Lines[1].ReceivedQuantity)
		require.Nil(t, got.ReceivedAt)
		require.EqualValues(t, 6, f.onHand(t, "acme", a.ID))
		require.EqualValues(t, 2, f.onHand(t, "acme", b.ID))

		// The ledger carries the receipt: reason, cost, batch and expiry.
		moves, err := f.inventory.ListMovements(ctx, "acme", inventory.MovementFilter{ProductID: a.ID})
		require.NoError(t, err)
		require.Len(t, moves, 2)
		byID := map[string]inventory.Movement{}
		for _, m := range moves {
			byID[m.ID] = m
		}
		m := byID[r1.Lines[0].MovementID]
		require.Equal(t, "receipt PO-000001", m.Reason)
		require.EqualValues(t, 4, m.Quantity)
		require.Equal(t, "2.5", m.UnitCost.String())
		require.Equal(t, "L-1", m.BatchNumber)
		require.Equal(t, "2027-01-31", m.ExpiryDate.Format("2006-01-02"))
		require.Len(t, f.events(t, "acme", "StockMovementRecorded"), 3)

		evs := f.events(t, "acme", "GoodsReceived")
		require.Len(t, evs, 1)
		var e procurement.GoodsReceived
		require.NoError(t, evs[0].Decode(&e))
		require.Equal(t, r1.ID, e.ReceiptID)
		require.Equal(t, "PO-000001", e.Number)
		require.Equal(t, v.ID, e.VendorID)
		require.Equal(t, main.ID, e.LocationID)
		require.False(t, e.FullyReceived)
		require.Len(t, e.Lines, 3)
		require.Equal(t, r1.Lines[2].MovementID, e.Lines[2].MovementID)
		require.Equal(t, 2, e.Lines[2].LineNo)
		require.Equal(t, "2027-02-28", e.Lines[1].ExpiryDate)

		// Over-receipt counts what earlier receipts took.
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{
			{LineNo: intp(1), Quantity: 5},
		}})
		requireRule(t, err, "over_receipt")
		// ... and every input line of the receipt that names the line.
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{
			{LineNo: intp(1), Quantity: 3}, {ProductID: a.ID, Quantity: 2},
		}})
		requireRule(t, err, "over_receipt")

		// The rest, at another location.
		north, err := f.inventory.CreateLocation(ctx, clerk, inventory.LocationInput{Code: "north", Name: "North"})
		require.NoError(t, err)
		r2, err := f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{LocationID: north.ID, Lines: []procurement.ReceiveLineInput{
			{LineNo: intp(1), Quantity: 4}, {ProductID: b.ID, LineNo: intp(2), Quantity: 3},
		}})
		require.NoError(t, err)
		require.Equal(t, north.ID, r2.LocationID)
		got, err = f.svc.GetPurchaseOrder(ctx, "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusReceived, got.Status)
		require.NotNil(t, got.ReceivedAt)
		require.Equal(t, r2.ReceivedAt, *got.ReceivedAt)
		require.EqualValues(t, 10, f.onHand(t, "acme", a.ID))
		require.EqualValues(t, 5, f.onHand(t, "acme", b.ID))
		evs = f.events(t, "acme", "GoodsReceived")
		require.Len(t, evs, 2)
		require.NoError(t, evs[1].Decode(&e))
		require.True(t, e.FullyReceived)

		// A fully received order takes nothing more.
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1}}})
		requireRule(t, err, "purchase_order_not_approved")

		receipts, err := f.svc.ListReceipts(ctx, "acme", po.ID, procurement.ReceiptFilter{})
		require.NoError(t, err)
		require.Len(t, receipts, 2)
		require.Equal(t, r1.ID, receipts[0].ID)
		requireSameLines(t, r1.Lines, receipts[0].Lines)
		requireSameLines(t, r2.Lines, receipts[1].Lines)
		require.Equal(t, r1.ReceivedAt, receipts[0].ReceivedAt)
		page, err := f.svc.ListReceipts(ctx, "acme", po.ID, procurement.ReceiptFilter{After: r1.ID, Limit: 1})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, r2.ID, page[0].ID)
	})
}

// requireSameLines compares receipt lines; costs by value (PostgreSQL gives
// them back with four decimal places).
func requireSameLines(t *testing.T, want, got []procurement.ReceiptLine) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.True(t, want[i].UnitCost.Equal(got[i].UnitCost), "line %d cost %s, want %s", i, got[i].UnitCost, want[i].UnitCost)
		got[i].UnitCost = want[i].UnitCost
	}
	require.Equal(t, want, got)
}

func TestReceiveRules(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel")
		a, b := f.product(t, buyer, "A"), f.product(t, buyer, "B")
		one := func(qty int64) procurement.ReceiveInput {
			return procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: qty}}}
		}
		pending := f.order(t, buyer, v.ID, procurement.LineInput{ProductID: a.ID, Quantity: 3, UnitCost: dec("1")})
		_, err := f.svc.Receive(ctx, clerk, pending.ID, one(1))
		requireRule(t, err, "purchase_order_not_approved")

		// The same product on two lines: product_id alone is ambiguous.
		po := f.approved(t, v.ID,
			procurement.LineInput{ProductID: a.ID, Quantity: 3, UnitCost: dec("1")},
			procurement.LineInput{ProductID: a.ID, Quantity: 3, UnitCost: dec("2")})
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{ProductID: a.ID, Quantity: 1}}})
		requireFields(t, err, "lines[0].product_id")
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{
			{ProductID: b.ID, Quantity: 1}, {LineNo: intp(3), Quantity: 1}, {LineNo: intp(1), ProductID: b.ID, Quantity: 1},
		}})
		requireFields(t, err, "lines[0].product_id", "lines[1].line_no", "lines[2].product_id")
		r, err := f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(2), Quantity: 3}}})
		require.NoError(t, err)
		require.Equal(t, "2", r.Lines[0].UnitCost.String(), "line 2's cost")

		// Input checked before anything is read.
		cases := map[string]struct {
			in    procurement.ReceiveInput
			field string
		}{
			"no lines":       {procurement.ReceiveInput{}, "lines"},
			"no line ref":    {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{Quantity: 1}}}, "lines[0].line_no"},
			"line 0":         {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(0), Quantity: 1}}}, "lines[0].line_no"},
			"bad product":    {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{ProductID: "a", Quantity: 1}}}, "lines[0].product_id"},
			"zero quantity":  {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1)}}}, "lines[0].quantity"},
			"huge quantity":  {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1 << 40}}}, "lines[0].quantity"},
			"negative cost":  {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1, UnitCost: dec("-1")}}}, "lines[0].unit_cost"},
			"5 places":       {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1, UnitCost: dec("0.00001")}}}, "lines[0].unit_cost"},
			"long batch":     {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1, BatchNumber: string(make([]byte, 65))}}}, "lines[0].batch_number"},
			"bad expiry":     {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1, ExpiryDate: "2027-02-30"}}}, "lines[0].expiry_date"},
			"bad location":   {procurement.ReceiveInput{LocationID: "main", Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1}}}, "location_id"},
			"control batch":  {procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1, BatchNumber: "a\nb"}}}, "lines[0].batch_number"},
			"101 input rows": {procurement.ReceiveInput{Lines: make([]procurement.ReceiveLineInput, 101)}, "lines"},
		}
		for name, tc := range cases {
			_, err := f.svc.Receive(ctx, clerk, po.ID, tc.in)
			var verr *domain.ValidationError
			require.ErrorAs(t, err, &verr, name)
			require.Contains(t, verr.Fields, tc.field, name)
		}

		// Permission: inventory.manage, not procurement.
		_, err = f.svc.Receive(ctx, buyer, po.ID, one(1))
		require.ErrorIs(t, err, domain.ErrForbidden)

		// Another tenant's order and location are not found.
		_, err = f.svc.Receive(ctx, globex, po.ID, one(1))
		require.ErrorIs(t, err, domain.ErrNotFound)
		theirs, err := f.inventory.CreateLocation(ctx, globex, inventory.LocationInput{Code: "g", Name: "G"})
		require.NoError(t, err)
		_, err = f.svc.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{LocationID: theirs.ID, Lines: one(1).Lines})
		require.ErrorIs(t, err, domain.ErrNotFound)
		_, err = f.svc.ListReceipts(ctx, "globex", po.ID, procurement.ReceiptFilter{})
		require.ErrorIs(t, err, domain.ErrNotFound)

		// A product deleted after ordering cannot be received.
		require.NoError(t, f.products.Delete(ctx, buyer, a.ID))
		_, err = f.svc.Receive(ctx, clerk, po.ID, one(1))
		requireRule(t, err, "product_deleted")

		require.Len(t, f.events(t, "acme", "GoodsReceived"), 1, "refused receipts write no event")
		require.Len(t, f.events(t, "acme", "StockMovementRecorded"), 1)
		require.Empty(t, f.events(t, "globex", "StockMovementRecorded"))
	})
}

// failingReceipts fails InsertReceipt, which runs after the stock
// movements were recorded: they must roll back with it.
type failingReceipts struct{ *sqlstore.Store }

var errDisk = errors.New("disk full")

func (failingReceipts) InsertReceipt(context.Context, procurement.Receipt) error { return errDisk }

func TestFailedReceiptLeavesNoTrace(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		v := f.vendor(t, buyer, "Steel")
		a := f.product(t, buyer, "A")
		po := f.approved(t, v.ID, procurement.LineInput{ProductID: a.ID, Quantity: 5, UnitCost: dec("1")})
		broken := procurement.NewService(failingReceipts{f.store}, f.inventory, nil)
		_, err := broken.Receive(ctx, clerk, po.ID, procurement.ReceiveInput{Lines: []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 5}}})
		require.ErrorIs(t, err, errDisk)

		require.EqualValues(t, 0, f.onHand(t, "acme", a.ID))
		moves, err := f.inventory.ListMovements(ctx, "acme", inventory.MovementFilter{})
		require.NoError(t, err)
		require.Empty(t, moves)
		require.Empty(t, f.events(t, "acme", "StockMovementRecorded"))
		require.Empty(t, f.events(t, "acme", "GoodsReceived"))
		got, err := f.svc.GetPurchaseOrder(ctx, "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusApproved, got.Status)
		require.Zero(t, got.Lines[0].ReceivedQuantity)
	})
}

func TestConcurrentReceiptsNeverOverReceive(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, f fixture) {
		v := f.vendor(t, buyer, "Steel")
		a, b := f.product(t, buyer, "A"), f.product(t, buyer, "B")
		po := f.approved(t, v.ID,
			procurement.LineInput{ProductID: a.ID, Quantity: 6, UnitCost: dec("1")},
			procurement.LineInput{ProductID: b.ID, Quantity: 6, UnitCost: dec("1")})
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := range 9 {
			// Alternate the line order, so receipts take products in both
			// orders.
			lines := []procurement.ReceiveLineInput{{LineNo: intp(1), Quantity: 1}, {LineNo: intp(2), Quantity: 1}}
			if i%2 == 1 {
				lines[0], lines[1] = lines[1], lines[0]
			}
			wg.Go(func() {
				_, err := f.svc.Receive(context.Background(), clerk, po.ID, procurement.ReceiveInput{Lines: lines})
				mu.Lock()
				defer mu.Unlock()
				var rule *domain.RuleError
				switch {
				case err == nil:
					ok++
				case errors.As(err, &rule) && rule.Code != "":
					refused++
				default:
					t.Errorf("receive: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 6, ok)
		require.Equal(t, 3, refused)
		require.EqualValues(t, 6, f.onHand(t, "acme", a.ID))
		require.EqualValues(t, 6, f.onHand(t, "acme", b.ID))
		require.Len(t, f.events(t, "acme", "GoodsReceived"), 6)
		got, err := f.svc.GetPurchaseOrder(context.Background(), "acme", po.ID)
		require.NoError(t, err)
		require.Equal(t, procurement.StatusReceived, got.Status)
	})
}
