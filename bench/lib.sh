# Shared by the bench scripts: the smsgate side of the side-by-side setup, so every script
# measures the same gateway configuration. Source it; it defines functions only.

# Writes $1/smsgate.toml: HTTP on 127.0.0.1:$2, SQLite in $1, one SMPP connector (window 100)
# to the SMSC simulator on 127.0.0.1:$3.
write_smsgate_config() {
  cat > "$1/smsgate.toml" <<TOML
[http]
listen = "127.0.0.1:$2"
[store]
url = "sqlite://$1/smsgate.db"
[log]
level = "warn"
[[connectors]]
name = "sim"
type = "smpp"
host = "127.0.0.1"
port = $3
system_id = "smsgate"
password = "secret"
window = 100
message_id_format = "decimal"
TOML
}

# Subscribes the counting sink on 127.0.0.1:$2 to message.status at the gateway $1 with the key
# in SMSGATE_KEY; $3 is a JSON list of statuses, or empty for every status.
subscribe_sink() {
  curl -sf -H "Authorization: Bearer $SMSGATE_KEY" -H 'content-type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$2/hook\", \"events\": [\"message.status\"]${3:+, \"statuses\": $3}}" \
    "$1/v1/webhooks" >/dev/null
}
