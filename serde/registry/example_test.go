package registry_test

import (
	"fmt"
	"log"

	"github.com/eddystreams/eddy/serde/registry"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

type Order struct {
	ID     string `avro:"id"`
	Amount int64  `avro:"amount"`
}

const orderSchema = `{"type": "record", "name": "Order", "namespace": "shop",
 "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "long"}]}`

// An Avro serde for the values of a topology's source and sink. Its schema
// is registered under "orders-value" on the first write to "orders"; a
// record read is decoded with the schema its id names.
func Example() {
	reg := srfake.New() // in-process stand-in for the registry's URL
	defer reg.Close()
	c, err := registry.Dial(reg.URL()) // Apicurio: http://host:8080/apis/ccompat/v7
	if err != nil {
		log.Fatal(err)
	}
	orders, err := registry.Avro[Order](c, orderSchema)
	if err != nil {
		log.Fatal(err)
	}

	b := topology.NewBuilder()
	topology.Stream(b, "orders", topology.String(), topology.Serde[Order](orders)).
		Filter(func(_ string, o Order) bool { return o.Amount >= 100 }).
		To("big-orders")
	if _, err := b.Build(); err != nil {
		log.Fatal(err)
	}

	data, err := orders.Serialize("orders", Order{ID: "o-1", Amount: 250})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", data)
	o, err := orders.Deserialize("orders", data)
	fmt.Println(o, err)
	// Output:
	// 00 00 00 00 01 06 6f 2d 31 f4 03
	// {o-1 250} <nil>
}
