// Writes Ghost's config.production.json: the non-secret settings of the ConfigMap plus the secrets read from
// mounted Secret files, into a private emptyDir. Run by the init container with the Ghost image's Node, so no
// secret is ever in an environment variable or in the rendered manifests.
'use strict';
const fs = require('fs');
const path = require('path');

const config = JSON.parse(fs.readFileSync(process.env.GHOST_CONFIG_TEMPLATE || '/etc/ghost-config/config.json', 'utf8'));
const dbDir = process.env.GHOST_DB_SECRET_DIR || '/etc/ghost-db';
const mailDir = process.env.GHOST_MAIL_SECRET_DIR || '/etc/ghost-mail';
const out = process.env.GHOST_CONFIG_OUT || '/config/config.production.json';

config.database.connection.password = fs.readFileSync(path.join(dbDir, 'password'), 'utf8');
if (config.mail && config.mail.options && config.mail.options.auth) {
    config.mail.options.auth.user = fs.readFileSync(path.join(mailDir, 'user'), 'utf8');
    config.mail.options.auth.pass = fs.readFileSync(path.join(mailDir, 'password'), 'utf8');
}
fs.writeFileSync(out, JSON.stringify(config, null, 2), {mode: 0o600});
console.log(`render-config: wrote ${out}`);
