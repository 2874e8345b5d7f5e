import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addKnownHost,
  checkHostKey,
  entryMatches,
  fingerprint,
  hostString,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
} from '../../src/transport/known-hosts.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ship-kh-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

// Two distinct fake ed25519 blobs and one rsa-typed blob (content only needs to be base64).
const K1 = blob('ssh-ed25519', 1);
const K2 = blob('ssh-ed25519', 2);
const R1 = blob('ssh-rsa', 3);

function blob(type: string, seed: number): string {
  const t = Buffer.from(type);
  const body = Buffer.alloc(32, seed);
  const b = Buffer.alloc(8 + t.length + body.length);
  b.writeUInt32BE(t.length, 0);
  t.copy(b, 4);
  b.writeUInt32BE(body.length, 4 + t.length);
  body.copy(b, 8 + t.length);
  return b.toString('base64');
}

let n = 0;
function file(text: string): string {
  const f = path.join(tmp, `kh${n++}`);
  writeFileSync(f, text);
  return f;
}

function hashed(hostStr: string): string {
  const salt = randomBytes(20);
  const h = createHmac('sha1', salt).update(hostStr).digest('base64');
  return `|1|${salt.toString('base64')}|${h}`;
}

test('hostString: port 22 bare, others bracketed, lowercased', () => {
  assert.is(hostString('Web1.Example.com', 22), 'web1.example.com');
  assert.is(hostString('127.0.0.1', 2222), '[127.0.0.1]:2222');
});

test('plain entry: ok, changed key, unknown host', () => {
  const f = file(`# comment\n\nweb1.example.com ssh-ed25519 ${K1} comment here\n`);
  assert.is(checkHostKey([f], 'web1.example.com', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], 'WEB1.example.com', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], 'web1.example.com', 22, 'ssh-ed25519', K2), 'changed');
  assert.is(checkHostKey([f], 'web2.example.com', 22, 'ssh-ed25519', K1), 'unknown');
  // the same host on another port is another entry
  assert.is(checkHostKey([f], 'web1.example.com', 2222, 'ssh-ed25519', K1), 'unknown');
});

test('comma list and [host]:port entries', () => {
  const f = file(`web1,10.0.0.5 ssh-ed25519 ${K1}\n[10.0.0.6]:2222,[web3]:2200 ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([f], 'web1', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], '10.0.0.5', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], '10.0.0.6', 2222, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], 'web3', 2200, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], '10.0.0.6', 22, 'ssh-ed25519', K2), 'unknown');
  assert.is(checkHostKey([f], 'web3', 2222, 'ssh-ed25519', K2), 'unknown');
  // [host]:22 is never written; a bracketed port-22 pattern does not match plain host
  const g = file(`[web9]:22 ssh-ed25519 ${K1}\n`);
  assert.is(checkHostKey([g], 'web9', 22, 'ssh-ed25519', K1), 'unknown');
});

test('hashed entries (HMAC-SHA1 of host, or [host]:port off port 22)', () => {
  const f = file(`${hashed('web1.example.com')} ssh-ed25519 ${K1}\n${hashed('[127.0.0.1]:2222')} ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([f], 'web1.example.com', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], 'web1.example.com', 22, 'ssh-ed25519', K2), 'changed');
  assert.is(checkHostKey([f], 'web2.example.com', 22, 'ssh-ed25519', K1), 'unknown');
  assert.is(checkHostKey([f], '127.0.0.1', 2222, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], '127.0.0.1', 22, 'ssh-ed25519', K2), 'unknown');
  assert.not.ok(entryMatches('|1|garbage', 'x', 22));
});

test('hashed entries written by ssh-keygen -H', () => {
  const f = file(`web7.example.com ssh-ed25519 ${K1}\n[10.1.1.1]:2022 ssh-ed25519 ${K2}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
  const text = readFileSync(f, 'utf8');
  assert.not.match(text, 'web7');
  assert.match(text, /^\|1\|/m);
  assert.is(checkHostKey([f], 'web7.example.com', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], '10.1.1.1', 2022, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], '10.1.1.1', 2022, 'ssh-ed25519', K1), 'changed');
});

test('wildcards * and ?, negation !', () => {
  const f = file(`*.example.com,!bad.example.com ssh-ed25519 ${K1}\nweb?.test ssh-ed25519 ${K2}\n[*.dev]:2222 ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([f], 'a.example.com', 22, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], 'bad.example.com', 22, 'ssh-ed25519', K1), 'unknown');
  assert.is(checkHostKey([f], 'web1.test', 22, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], 'web10.test', 22, 'ssh-ed25519', K2), 'unknown');
  assert.is(checkHostKey([f], 'box.dev', 2222, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([f], 'box.dev', 22, 'ssh-ed25519', K2), 'unknown');
  // regex metacharacters in a pattern are literal
  assert.not.ok(entryMatches('web1.example.com', 'web1xexample.com', 22));
});

test('@revoked refuses the key even when another line accepts it; @cert-authority ignored', () => {
  const f = file(`web1 ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}\n@cert-authority *.example.com ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([f], 'web1', 22, 'ssh-ed25519', K1), 'revoked');
  assert.is(checkHostKey([f], 'other', 22, 'ssh-ed25519', K1), 'revoked');
  // a CA line does not make the host known, nor its key acceptable
  assert.is(checkHostKey([f], 'a.example.com', 22, 'ssh-ed25519', K2), 'unknown');
  // revoked only for what it names
  const g = file(`web2 ssh-ed25519 ${K2}\n@revoked web1 ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([g], 'web2', 22, 'ssh-ed25519', K2), 'ok');
});

test('known only with another key type counts as changed (safe choice)', () => {
  const f = file(`web1 ssh-rsa ${R1}\n`);
  assert.is(checkHostKey([f], 'web1', 22, 'ssh-ed25519', K1), 'changed');
  assert.is(checkHostKey([f], 'web1', 22, 'ssh-rsa', R1), 'ok');
  const g = file(`web1 ssh-rsa ${R1}\nweb1 ssh-ed25519 ${K1}\n`);
  assert.is(checkHostKey([g], 'web1', 22, 'ssh-ed25519', K1), 'ok');
  assert.equal(knownKeyTypes([g], 'web1', 22), ['ssh-rsa', 'ssh-ed25519']);
});

test('several files: any matching line counts; missing files are empty', () => {
  const a = file(`web1 ssh-ed25519 ${K1}\n`);
  const b = file(`web2 ssh-ed25519 ${K2}\n`);
  const missing = path.join(tmp, 'nope');
  assert.is(checkHostKey([missing, a, b], 'web2', 22, 'ssh-ed25519', K2), 'ok');
  assert.is(checkHostKey([missing], 'web2', 22, 'ssh-ed25519', K2), 'unknown');
});

test('malformed lines are skipped', () => {
  const entries = parseKnownHosts(`onlyhost\n@bogus x ssh-ed25519 ${K1}\nweb1 ssh-ed25519 ${K1}\n`);
  assert.is(entries.length, 1);
  assert.is(entries[0].line, 3);
});

test('addKnownHost creates dir 0700 and file 0600, appends checkable lines', () => {
  const f = path.join(tmp, 'new', 'sub', 'known_hosts');
  addKnownHost(f, '127.0.0.1', 2222, 'ssh-ed25519', K1);
  addKnownHost(f, 'web1', 22, 'ssh-ed25519', K2);
  assert.is(statSync(path.dirname(f)).mode & 0o777, 0o700);
  assert.is(statSync(f).mode & 0o777, 0o600);
  assert.is(readFileSync(f, 'utf8'), `[127.0.0.1]:2222 ssh-ed25519 ${K1}\nweb1 ssh-ed25519 ${K2}\n`);
  assert.is(checkHostKey([f], '127.0.0.1', 2222, 'ssh-ed25519', K1), 'ok');
  assert.is(checkHostKey([f], 'web1', 22, 'ssh-ed25519', K2), 'ok');
  // a file without a final newline gets one before the new line
  const g = file(`web1 ssh-ed25519 ${K1}`);
  addKnownHost(g, 'web2', 22, 'ssh-ed25519', K2);
  assert.is(readFileSync(g, 'utf8'), `web1 ssh-ed25519 ${K1}\nweb2 ssh-ed25519 ${K2}\n`);
});

test('fingerprint matches ssh-keygen -l; keyTypeOf reads the blob', () => {
  const k = path.join(tmp, 'fpkey');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k], { stdio: 'ignore' });
  const pub = readFileSync(`${k}.pub`, 'utf8').trim().split(/\s+/);
  const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${k}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];
  assert.is(fingerprint(pub[1]), expected);
  assert.is(keyTypeOf(Buffer.from(pub[1], 'base64')), 'ssh-ed25519');
});

test.run();
