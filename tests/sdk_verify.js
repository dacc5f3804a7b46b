// The official signer as a second verifier: every AK/SK request the module made, as the
// CSMS stand-in recorded it, signed again with Huawei's Node.js SDK core
// (@huaweicloud/huaweicloud-sdk-core, auth/AKSKSigner.js) from the headers it says it
// signed; the Authorization header must come out the same, byte for byte.
//   node sdk_verify.js NODE_MODULES LOG AK=SK... -> "N verified, M failed"; exit 1 on any failure
'use strict';
const fs = require('fs');
const path = require('path');
const [nodeModules, log, ...pairs] = process.argv.slice(2);
const { AKSKSigner } = require(path.join(nodeModules, '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner'));
const keys = Object.fromEntries(pairs.map((p) => p.split('=')));
let ok = 0, bad = 0;
const seen = { hosts: new Set(), dates: new Set(), names: new Set(), tokens: 0 };
for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
	if (!line) continue;
	const r = JSON.parse(line);
	const auth = r.headers.authorization;
	if (r.server !== 'csms' || !auth) continue;
	const m = /^SDK-HMAC-SHA256 Access=([^,]*), SignedHeaders=([^,]*), Signature=[0-9a-f]{64}$/.exec(auth);
	if (!m || !(m[1] in keys)) {
		bad++;
		console.log('FAIL: not an SDK-HMAC-SHA256 header for a known key: ' + auth);
		continue;
	}
	// the request as the SDK would be handed it: the signed headers with the values sent
	const headers = {};
	for (const name of m[2].split(';')) headers[name === 'x-sdk-date' ? 'X-Sdk-Date' : name] = r.headers[name];
	const request = { method: r.method, endpoint: 'https://' + r.headers.host + r.path, headers, queryParams: {} };
	const credential = { getAk: () => m[1], getSk: () => keys[m[1]] };
	const want = AKSKSigner.sign(request, credential).Authorization;
	if (want === auth) {
		ok++;
		seen.hosts.add(r.headers.host);
		seen.dates.add(r.headers['x-sdk-date']);
		seen.names.add(r.path.split('/').pop());
		if (r.headers['x-security-token']) seen.tokens++;
	} else {
		bad++;
		console.log('FAIL: ' + r.path + '\n  module: ' + auth + '\n  SDK:    ' + want);
	}
}
console.log(`${ok} verified (${seen.names.size} names, ${seen.dates.size} dates, hosts ${[...seen.hosts].join(' ')}, ${seen.tokens} with X-Security-Token), ${bad} failed`);
process.exit(bad === 0 && ok > 0 ? 0 : 1);
