# Sourced by the shell tests: a token file and a config for the running stand-in.
# standin_config DIR HOST [TAIL]: writes DIR/token (0600) and DIR/pam_csms.conf (0644)
# pointing at https://HOST:$CSMS_STANDIN_PORT; TAIL is appended (e.g. a [service] section).
standin_config() {
	printf '%s\n' "${CSMS_TEST_TOKEN:?}" >"$1/token"
	chmod 600 "$1/token"
	cat >"$1/pam_csms.conf" <<EOC
[csms]
endpoint = https://$2:${CSMS_STANDIN_PORT:?}
project_id = ${CSMS_STANDIN_PROJECT:?}
token_file = $1/token
ca_file = ${CSMS_TEST_CA:?}
${3:-}
EOC
	chmod 644 "$1/pam_csms.conf"
}
