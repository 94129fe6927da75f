package crm

// CustomerCreated is written when a customer is created, directly or by
// converting a lead (then LeadID is set).
type CustomerCreated struct {
	CustomerID string `json:"customer_id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	LeadID     string `json:"lead_id,omitempty"`
}

func (CustomerCreated) EventType() string             { return "CustomerCreated" }
func (e CustomerCreated) Aggregate() (string, string) { return "customer", e.CustomerID }

// LeadConverted is written once per lead, when it becomes a customer.
type LeadConverted struct {
	LeadID     string `json:"lead_id"`
	CustomerID string `json:"customer_id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
}

func (LeadConverted) EventType() string             { return "LeadConverted" }
func (e LeadConverted) Aggregate() (string, string) { return "lead", e.LeadID }

// CustomerUpdated is written when a customer's details change (an external
// sync bringing a new name). Name and Email are the values after the change;
// Changes holds each changed field's old and new value.
type CustomerUpdated struct {
	CustomerID string                 `json:"customer_id"`
	Name       string                 `json:"name"`
	Email      string                 `json:"email"`
	Changes    map[string]FieldChange `json:"changes"`
}

func (CustomerUpdated) EventType() string             { return "CustomerUpdated" }
func (e CustomerUpdated) Aggregate() (string, string) { return "customer", e.CustomerID }

// FieldChange is one field's value before and after an update.
type FieldChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}
