// Database bootstrap for Ghost: its database and least-privilege user, idempotent. Run by the bootstrap Job
// with the Ghost image's own Node and mysql2 (the driver and TLS settings Ghost itself uses).
// Credentials come from mounted Secret files, never from argv or env; values are sent as escaped
// literals (mysql2's client-side escaping), so any character a password generator produces is safe.
'use strict';
const fs = require('fs');
const path = require('path');

const read = (dir, key) => fs.readFileSync(path.join(dir, key), 'utf8');
const ghostInstall = process.env.GHOST_INSTALL || '/var/lib/ghost';
const mysql = require(path.join(ghostInstall, 'current', 'node_modules', 'mysql2', 'promise'));
const config = JSON.parse(fs.readFileSync(process.env.GHOST_CONFIG_TEMPLATE || '/etc/ghost-config/config.json', 'utf8'));
const dbDir = process.env.GHOST_DB_SECRET_DIR || '/etc/ghost-db';
const adminDir = process.env.GHOST_DB_ADMIN_SECRET_DIR || '/etc/ghost-db-admin';
const conn = config.database.connection;

async function main() {
    const admin = await mysql.createConnection({
        // Ghost's own env overrides carry what only the cloud knows (the database endpoint)
        host: process.env.database__connection__host || conn.host,
        port: Number(process.env.database__connection__port || conn.port || 3306),
        user: read(adminDir, 'user'), password: read(adminDir, 'password'),
        ssl: conn.ssl, // the same verified TLS as Ghost: the RDS CA profile, or a CA given in the config
        multipleStatements: false
    });
    try {
        const user = conn.user;
        if (process.env.GHOST_BOOTSTRAP_MODE === 'drop') { // a personal stack's teardown, before its destroy
            await admin.query('DROP DATABASE IF EXISTS ??', [conn.database]);
            await admin.query("DROP USER IF EXISTS ?@'%'", [user]);
            console.log(`bootstrap: database ${conn.database} and user ${user} are dropped`);
            return;
        }
        const provisionerDir = process.env.GHOST_DB_PROVISIONER_SECRET_DIR || '/etc/ghost-db-provisioner';
        if (fs.existsSync(path.join(provisionerDir, 'user'))) { // environment stacks: the personal stacks' provisioner
            const [prov, provPassword, pattern] = ['user', 'password', 'database-pattern'].map((k) => read(provisionerDir, k));
            await admin.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [prov, provPassword]);
            await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [prov, provPassword]);
            await admin.query("GRANT ALL PRIVILEGES ON ??.* TO ?@'%' WITH GRANT OPTION", [pattern, prov]);
            await admin.query("GRANT CREATE USER ON *.* TO ?@'%'", [prov]);
            console.log(`bootstrap: provisioner ${prov} may manage databases ${pattern}`);
        }
        const password = read(dbDir, 'password');
        await admin.query('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4', [conn.database]);
        await admin.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [user, password]);
        await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [user, password]);
        // In GRANT, `_` and `%` in a database name are wildcards: escape them so the grant names exactly this
        // database (and a provisioner limited to `ghost\_%` may give it)
        const exactly = conn.database.replace(/[_%]/g, '\\$&');
        await admin.query("GRANT ALL PRIVILEGES ON ??.* TO ?@'%'", [exactly, user]);
        console.log(`bootstrap: database ${conn.database} and user ${user} are ready`);
    } finally {
        await admin.end();
    }
}

main().catch((err) => {
    console.error(`bootstrap failed: ${err.code || ''} ${err.message}`);
    process.exit(1);
});
