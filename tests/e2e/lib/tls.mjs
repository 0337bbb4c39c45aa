// tls.mjs: a throwaway test CA and server certificates made with the openssl CLI, for the
// TLS tests (tls.test.mjs, the browser test).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Makes a CA in dir (ca.pem, ca.key) and returns { dir, ca (PEM text), issue }: issue(name)
 * writes name.pem (the server certificate for 127.0.0.1 and localhost, signed by the CA,
 * followed by the CA: a chain) and name.key, and returns their paths and the leaf's SHA-256
 * fingerprint as node prints it (tls getPeerCertificate().fingerprint256).
 */
export function makeCa(dir) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=chorus test CA'], dir);
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  let serial = 1;
  const issue = (name) => {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-set_serial', String(serial++), '-days', '2', '-extfile', 'ext', '-out', `${name}.leaf`], dir);
    const leaf = fs.readFileSync(path.join(dir, `${name}.leaf`), 'utf8');
    fs.writeFileSync(path.join(dir, `${name}.pem`), leaf + ca);
    const fp = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', `${name}.leaf`],
      { cwd: dir, encoding: 'utf8' }).trim().replace(/^.*=/, '');
    return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`), fingerprint: fp };
  };
  return { dir, ca, issue };
}
