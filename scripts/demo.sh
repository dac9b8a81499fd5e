#!/usr/bin/env bash
# The main job end to end on the embedded SQLite store (run by `make demo`).
# A cleaning-products company sells its business; two bidders; 10,000 invented customers.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO="${DEMO_DIR:-.demo}"
rm -rf "$DEMO"
mkdir -p "$DEMO"
export DEALVAULT_HOME="$DEMO/store"
export DEALVAULT_PASSPHRASE="demo passphrase, not for production"
# Lighter Argon2id than the default so the demo is quick; production keeps the default.
export DEALVAULT_ARGON2_MEMORY_KIB=16384 DEALVAULT_ARGON2_TIME_COST=2
# The warm command server (docs/warm.md): after the first call, each `dealvault` forks from a
# server that has the CLI imported already. DEALVAULT_WARM=0 make demo runs every call cold.
export DEALVAULT_WARM="${DEALVAULT_WARM:-1}"
if [ "$DEALVAULT_WARM" = 1 ]; then
  trap 'dealvault warm stop >/dev/null 2>&1 || true' EXIT   # also when a step fails
fi
OPERATOR="it@jingjie.example"   # runs the store: holds the master key
dv() { dealvault "$@"; }
op() { dealvault --as "$OPERATOR" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. initialise the store (migrations, Argon2id-wrapped master key, its first operator)"
# --trial: a single-machine trial where bidders and counsel act here by naming themselves
# (--as); every report says so. A real deal gives them accounts on the server instead.
dv init --trial --operator "$OPERATOR" --operator-name "IT Operator" --org "晶洁日用品有限公司"

say "2. organisations, people and the deal"
op org add "绿源家居集团" --kind bidder >/dev/null
op org add "清风投资有限公司" --kind bidder >/dev/null
op person add steward@jingjie.example --name "Data Steward" --org "晶洁日用品有限公司" >/dev/null
op person add hr@jingjie.example --name "Training Administrator" --org "晶洁日用品有限公司" >/dev/null
op person add analyst@lvyuan.example --name "Bidder Analyst" --org "绿源家居集团" >/dev/null
op deal create jingjie-2026 --name "Sale of Jingjie's household cleaning business" \
   --seller "晶洁日用品有限公司" --bidder "绿源家居集团" --bidder "清风投资有限公司" --kind asset \
   --steward steward@jingjie.example >/dev/null
op deal add-member jingjie-2026 --person analyst@lvyuan.example --role bidder_business >/dev/null
# reads above metadata need valid confidentiality training (内部培训), the steward's included;
# training is recorded by a training administrator, never by the trainee
op store grant hr@jingjie.example --role training_admin >/dev/null
dv --as hr@jingjie.example training add --person steward@jingjie.example --course confidentiality \
   --completed 2026-01-05 >/dev/null
echo "-- nobody grants themselves anything: the analyst cannot make itself a steward"
if dv --as analyst@lvyuan.example deal add-member jingjie-2026 --person analyst@lvyuan.example \
     --role bidder_clean_team; then
  echo "expected a self-granted role to be refused" >&2; exit 1
fi
export DEALVAULT_ACTOR="steward@jingjie.example"   # the seller's data steward from here on
dv deal show jingjie-2026

say "3. generate 10,000 invented customers (GBK CSV, as a real export would be)"
dv synth --rows 10000 --seed 7 --out "$DEMO/export" --format csv --encoding gbk

say "4. import customers, orders and notes: classified, validated, encrypted per customer"
dv import "$DEMO/export/customers.csv" --deal jingjie-2026 --dataset crm
dv import "$DEMO/export/orders.csv" --deal jingjie-2026 --dataset crm
dv import "$DEMO/export/notes.csv" --deal jingjie-2026 --dataset crm

say "4b. what personal information is where: the data inventory (metadata only)"
dv inventory --deal jingjie-2026 --dataset crm --html "$DEMO/inventory.html"

say "5. importing the same file again is detected"
if dv import "$DEMO/export/customers.csv" --deal jingjie-2026 --dataset crm; then
  echo "expected a re-import to be refused" >&2; exit 1
fi

say "6. a bidder cannot read customers (denied by the one read path)"
PHONE=$(python - "$DEMO/export/customers.csv" <<'PY'
import csv, sys
with open(sys.argv[1], encoding="gbk", newline="") as fh:
    row = next(csv.DictReader(fh))
print(row["手机号"])
PY
)
if dv --as analyst@lvyuan.example lookup "$PHONE" --deal jingjie-2026 --dataset crm; then
  echo "expected the bidder to be denied" >&2; exit 1
fi

say "7. the steward looks one customer up by phone (blind index; masked display)"
dv lookup "$PHONE" --deal jingjie-2026 --dataset crm --purpose "demo look-up"
SUBJECT=$(dv lookup "$PHONE" --deal jingjie-2026 --dataset crm --json | python -c 'import json,sys; print(json.load(sys.stdin)[0]["subject_id"])')

say "8. rotate the master key (dataset keys rewrapped; data untouched)"
op keys rotate --master

say "9. crypto-shred that customer and show it is gone"
dv shred "$SUBJECT" --deal jingjie-2026 --dataset crm --reason "erasure request (demo)" --yes
dv lookup "$SUBJECT" --by subject_id --deal jingjie-2026 --dataset crm

say "10. key status"
op keys status

say "11. the deal moves to due diligence (a signed checkpoint at the stage change)"
dv deal advance jingjie-2026 --reason "teaser and NDA round done" >/dev/null
dv deal show jingjie-2026 --json | python -c 'import json,sys; print("stage:", json.load(sys.stdin)["stage"])'

say "11b. due diligence: what a bidder may learn without learning who the customers are"
echo "-- aggregates: customers by province (cells under 10 customers suppressed, with complements)"
dv disclose --level aggregate --deal jingjie-2026 --dataset crm --recipient "绿源家居集团" \
   --group-by province --measure count --measure mean:total_amount --k-min 10 --limit 12 \
   --purpose "valuation: customer base by province"
echo "-- anonymized extract: age, gender, region generalised until every class holds >= 10"
dv disclose --level anonymized --deal jingjie-2026 --dataset crm --recipient "绿源家居集团" \
   --k 10 --keep order_count:range=5 --keep purchase_frequency --out "$DEMO/anonymized.csv" \
   --purpose "valuation: record-level analysis" --json | python -c '
import json, sys
m = json.load(sys.stdin); r = m["report"]
print("k achieved %s; %s classes; NCP %.3f; %s canary rows; file %s" % (
    r["k_achieved"], r["classes"], r["ncp"], r["canaries"], m["file"]))
for name, f in (("quasi-identifiers only", r["risk_after_quasi_identifiers"]),
                ("every released column", r["risk_after"])):
    print("  risk on %s: max %.3f, unique %.1f%%" % (name, f["prosecutor_max"],
          100 * f["unique_share"]))'
echo "-- pseudonymized extract for the clean team: tokens keyed to this bidder"
dv disclose --level pseudonymized --deal jingjie-2026 --dataset crm --recipient "绿源家居集团" \
   --out "$DEMO/pseudonymized.parquet" --purpose "clean team: churn analysis"
TOKEN=$(python -c 'import polars as pl, sys; print(pl.read_parquet(sys.argv[1])["token"][0])' "$DEMO/pseudonymized.parquet")
echo "-- only the seller can map a token back to the customer"
dv token resolve "$TOKEN" --deal jingjie-2026 --dataset crm --recipient "绿源家居集团" \
   --purpose "demo: trace a token"

say "11c. clean team: agreement, training, an approved grant, then a capped masked view"
op org add "金诚律师事务所" --kind law_firm >/dev/null
dv deal add-party jingjie-2026 --org "金诚律师事务所" --role counsel >/dev/null
op person add counsel@jincheng.example --name "Deal Counsel" --org "金诚律师事务所" >/dev/null
op person add security@jingjie.example --name "Security Officer" --org "晶洁日用品有限公司" >/dev/null
op person add clean@lvyuan.example --name "Clean Team Analyst" --org "绿源家居集团" >/dev/null
dv deal add-member jingjie-2026 --person counsel@jincheng.example --role counsel >/dev/null
dv deal add-member jingjie-2026 --person security@jingjie.example --role security_officer >/dev/null
dv deal add-member jingjie-2026 --person clean@lvyuan.example --role bidder_clean_team >/dev/null
printf 'This clean team agreement is invented for the demo.\n' > "$DEMO/clean-team-agreement.txt"
dv agreement add --deal jingjie-2026 --org "绿源家居集团" --kind clean_team --title "Clean team agreement" \
   --effective 2026-11-01 --expires 2027-06-30 --signer clean@lvyuan.example \
   --document "$DEMO/clean-team-agreement.txt" >/dev/null
dv deal advance jingjie-2026 --to clean_team --reason "clean team phase" >/dev/null
echo "-- without training or a grant the clean team is refused, with every reason:"
if dv --as clean@lvyuan.example view --deal jingjie-2026 --dataset crm --level masked \
     --purpose "spot checks"; then
  echo "expected a denial" >&2; exit 1
fi
printf 'email,course,completed,expires\nclean@lvyuan.example,confidentiality,2026-11-10,2027-11-09\n' \
   > "$DEMO/training.csv"
dv --as hr@jingjie.example training import "$DEMO/training.csv" >/dev/null
REQ=$(dv --as clean@lvyuan.example access request --deal jingjie-2026 --dataset crm \
   --category identity,contact,preference --level masked --purpose "spot checks of the base" \
   --days 14 --row-cap 200 --json | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
dv access approve "$REQ" >/dev/null                                   # the seller's steward
dv --as counsel@jincheng.example access approve "$REQ" >/dev/null     # counsel: grant made
dv access show "$REQ"
echo "-- now the clean team sees masked records, at most 200 rows, only what the grant covers:"
dv --as clean@lvyuan.example view --deal jingjie-2026 --dataset crm --purpose "spot checks" --limit 5
echo "-- temporary isolation: the security officer freezes the deal; every read stops"
dv --as security@jingjie.example deal freeze jingjie-2026 --reason "suspected leak (demo)" >/dev/null
if dv view --deal jingjie-2026 --dataset crm --level full --purpose "during freeze" --limit 1; then
  echo "expected the frozen deal to refuse even the steward" >&2; exit 1
fi
dv --as security@jingjie.example deal unfreeze jingjie-2026 --reason "cleared (demo)" >/dev/null

say "11d. closing: transfer agreement, approved plan, backup, signed package, buyer verifies and receives"
keys() { python -c 'import os,pyrage,sys; i=pyrage.x25519.Identity.generate(); fd=os.open(sys.argv[1],os.O_WRONLY|os.O_CREAT|os.O_EXCL,0o600); os.write(fd,(str(i)+"\n").encode()); print(i.to_public())' "$1"; }
BUYER_PUB=$(keys "$DEMO/buyer.agekey")
SELLER_PUB=$(keys "$DEMO/seller-backup.agekey")
dv agreement add --deal jingjie-2026 --org "绿源家居集团" --kind transfer --title "Asset transfer agreement" \
   --effective 2026-11-20 >/dev/null
dv deal advance jingjie-2026 --to signing --reason "SPA signed" >/dev/null
dv deal advance jingjie-2026 --to closing --winner "绿源家居集团" --reason "closing" >/dev/null
op person add dpo@jingjie.example --name "Data Protection Officer" --org "晶洁日用品有限公司" >/dev/null
dv deal add-member jingjie-2026 --person dpo@jingjie.example --role seller_steward >/dev/null
PLAN=$(dv --as dpo@jingjie.example plan create --deal jingjie-2026 --dataset crm --recipient "绿源家居集团" \
   --category identity,contact,transaction,preference --purpose "asset transfer at closing" \
   --recipient-contact "绿源家居集团客户服务部 400-000-0000 privacy@lvyuan.example" --objection-days 30 \
   --age-recipient "$BUYER_PUB" --json | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
dv plan approve "$PLAN" >/dev/null
dv --as counsel@jincheng.example plan approve "$PLAN" >/dev/null

say "11e. the compliance gate: notices, objections, consents, impact assessment (docs/compliance.md)"
echo "-- approved is not enough: the gate refuses the package while a blocking finding is open"
if dv --as counsel@jincheng.example compliance check "$PLAN"; then
  echo "expected the gate to be closed" >&2; exit 1
fi
if dv package build "$PLAN" --out "$DEMO/package" >/dev/null 2>&1; then
  echo "expected the build to be refused by the gate" >&2; exit 1
fi
echo "-- consent records from the seller's CRM (invented): marketing and guardians' consents"
python - "$DEMO/export/customers.csv" "$DEMO/consents.csv" <<'PY'
import csv, sys
with open(sys.argv[1], encoding="gbk", newline="") as fh, \
     open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    w = csv.writer(out)
    w.writerow(["customer_key", "purpose", "given_at", "source", "separate"])
    for i, row in enumerate(csv.DictReader(fh)):
        if i % 3 == 0:   # one in three agreed to marketing when signing up
            w.writerow([row["客户编号"], "marketing", "2025-06-01", "app sign-up form", "no"])
        if i % 2 == 0:   # and a guardian's consent is on file for half of them
            w.writerow([row["客户编号"], "guardian", "2025-06-01", "paper form", "yes"])
PY
dv consent import "$DEMO/consents.csv" --deal jingjie-2026 --dataset crm
echo "-- PIPL art. 22: every customer is told who the recipient is and how to object (SMS)"
dv plan notify "$PLAN" --channel sms --contact "晶洁日用品有限公司 400-111-1111" --out "$DEMO/notices-sms.csv"
echo "-- the gateway's report, 40 days later: delivered, a few unreachable, a few objections"
python - "$DEMO/notices-sms.csv" "$DEMO/notices-status.csv" <<'PY'
import csv, datetime, sys
sent = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
with open(sys.argv[1], encoding="utf-8", newline="") as fh, \
     open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    w = csv.writer(out)
    w.writerow(["delivery_id", "status", "at"])
    for i, row in enumerate(csv.DictReader(fh)):
        status = "objected" if i % 97 == 5 else "unreachable" if i % 89 == 7 else "delivered"
        w.writerow([row["delivery_id"], status, sent])
PY
dv plan notice-status "$PLAN" "$DEMO/notices-status.csv"
echo "-- the impact assessment (PIPL art. 55-56), signed off by counsel and the security officer"
PIA=$(dv --as security@jingjie.example compliance pia generate "$PLAN" --json | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
dv --as counsel@jincheng.example compliance pia sign "$PIA" --as-role counsel --note "purposes checked against the SPA" >/dev/null
dv --as security@jingjie.example compliance pia sign "$PIA" --as-role security_officer >/dev/null
dv compliance pia export "$PIA" "$DEMO/impact-assessment.html"
echo "-- checked again: the gate is open (advisory findings stay on the record)"
dv --as counsel@jincheng.example compliance check "$PLAN"
dv --as counsel@jincheng.example compliance report "$PLAN" "$DEMO/compliance-report.html"
dv plan show "$PLAN"
op backup create --recipient "$SELLER_PUB" --identity "$DEMO/seller-backup.agekey" \
   --out "$DEMO/backups" --reason "pre-transfer backup"
dv package build "$PLAN" --out "$DEMO/package"
dv package ledger --deal jingjie-2026
echo "-- the buyer, in its own store, verifies the package and imports it under its own keys"
# handed over out of band with the canary list: the seller's verifier key (its fingerprint
# is printed by package build), so that the buyer pins it
SELLER_VKEY=$(op audit key show --json | python -c 'import json,sys; print(json.load(sys.stdin)["verifier_key"])')
(
  export DEALVAULT_HOME="$DEMO/buyer-store" DEALVAULT_PASSPHRASE="buyer demo passphrase"
  unset DEALVAULT_ACTOR
  dv init --operator it@lvyuan.example --org "绿源家居集团" >/dev/null   # the buyer's own store
  dv person add steward@lvyuan.example --name "Buyer Steward" --org "绿源家居集团" >/dev/null
  dv deal create intake-2026 --name "Customers received from Jingjie" --seller "绿源家居集团" \
     --steward steward@lvyuan.example >/dev/null
  dv package verify "$DEMO/package" --identity "$DEMO/buyer.agekey" --verifier-key "$SELLER_VKEY" \
     --report-html "$DEMO/reconciliation.html"
  dv --as steward@lvyuan.example package receive "$DEMO/package" --identity "$DEMO/buyer.agekey" --deal intake-2026 \
     --dataset customers-from-jingjie --canaries "$DEMO/package.canaries" --verifier-key "$SELLER_VKEY" \
     --report-json "$DEMO/buyer-reconciliation.json"
)
echo "-- post-transfer review: the seller's counsel checks the buyer's report against the ledger"
dv --as counsel@jincheng.example package review 1 --report "$DEMO/buyer-reconciliation.json" \
   --notes "buyer received the package complete and unaltered"
dv package ledger --deal jingjie-2026
echo "-- after closing the seller's copy is crypto-shredded, with a signed destruction certificate"
dv deal advance jingjie-2026 --reason "post-closing" >/dev/null
dv certificate issue --deal jingjie-2026 --dataset crm --reason "closing: data handed over" --yes \
   --out "$DEMO/destruction-certificate.note"
dv certificate verify "$DEMO/destruction-certificate.note"

say "12. the audit trail: every change, read and denial; verified, exported, verified offline"
dv audit log --deal jingjie-2026 --action disclose
op audit verify --verifier-key "$SELLER_VKEY"   # pinned: a log re-signed under another key fails
op audit export "$DEMO/audit-bundle" >/dev/null
dv audit verify-bundle "$DEMO/audit-bundle" --verifier-key "$SELLER_VKEY"
op audit prove 5 --out "$DEMO/event-5.tlog-proof" >/dev/null
echo "proof of event 5 written to $DEMO/event-5.tlog-proof"
dv audit report "$DEMO/audit-report.html" --deal jingjie-2026 >/dev/null
echo "auditor's report: $DEMO/audit-report.html (PDF: dealvault audit report FILE.pdf)"

say "summary"
op keys status --json | python -c '
import json, sys
st = json.load(sys.stdin)
d = st["datasets"][0]
print("master key %s at version %s (%s provider)" % (st["kek_id"], st["kek_active_version"], st["provider"]))
print("dataset %s/%s: %s customers encrypted, %s shredded, %s customer keys held apart" % (
    d["deal"], d["dataset"], format(d["customers_active"], ","), d["customers_shredded"],
    format(d["customer_keys"], ",")))
'
if [ "$DEALVAULT_WARM" = 1 ]; then
  trap - EXIT
  dealvault warm stop
fi
echo "demo finished; the store is in $DEALVAULT_HOME"
