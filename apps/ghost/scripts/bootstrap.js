// Database bootstrap for Ghost: its database and least-privilege user, idempotent. Run by the bootstrap Job
// with the Ghost image's own Node and mysql2 (the driver and TLS settings Ghost itself uses).
// Credentials come from mounted Secret files, never from argv or env; values are sent as escaped
// literals (mysql2's client-side escaping), so any character a password generator produces is safe.
//
// GHOST_DB_ACCESS says whose credentials the admin Secret holds:
//   admin        an environment stack: the instance's administrator. Creates Ghost's database and user directly;
//                with GHOST_DB_PROVISIONER_USER set, also manages the personal stacks' provisioner: installed
//                (provisioner.sql, and EXECUTE on its two procedures its only privilege) when the provisioner
//                Secret is mounted, removed when it is not (an environment that hosts no personal stacks).
//   provisioner  a personal stack: the provisioner. Its database and user are made, re-passworded or dropped
//                only through the procedures, which check the name and derive the user themselves.
'use strict';
const fs = require('fs');
const path = require('path');

const read = (dir, key) => fs.readFileSync(path.join(dir, key), 'utf8');
const ghostInstall = process.env.GHOST_INSTALL || '/var/lib/ghost';
const mysql = require(path.join(ghostInstall, 'current', 'node_modules', 'mysql2', 'promise'));
const config = JSON.parse(fs.readFileSync(process.env.GHOST_CONFIG_TEMPLATE || '/etc/ghost-config/config.json', 'utf8'));
const dbDir = process.env.GHOST_DB_SECRET_DIR || '/etc/ghost-db';
const adminDir = process.env.GHOST_DB_ADMIN_SECRET_DIR || '/etc/ghost-db-admin';
const provisionerDir = process.env.GHOST_DB_PROVISIONER_SECRET_DIR || '/etc/ghost-db-provisioner';
const access = process.env.GHOST_DB_ACCESS || 'admin';
const conn = config.database.connection;
const PROVISIONING_SCHEMA = 'gitops_provisioning';
const PROCEDURES = ['provision_personal', 'drop_personal'];

// The provisioner's procedures: the statements of provisioner.sql, the environment's own database reserved.
function provisionerStatements(reservedDatabase) {
    const text = fs.readFileSync(path.join(__dirname, 'provisioner.sql'), 'utf8');
    return text.split(/^\$\$$/m).map((s) => s.replace(/^--.*$/gm, '').trim()).filter(Boolean)
        .map((s) => s.split('{{RESERVED_DATABASE}}').join(mysql.escape(reservedDatabase)));
}

async function installProvisioner(admin, user) {
    const password = read(provisionerDir, 'password');
    // the sql_mode the procedures keep: backslash escapes on, double quotes as strings (never ANSI_QUOTES)
    await admin.query("SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
    for (const statement of provisionerStatements(conn.database)) {
        await admin.query(statement);
    }
    await admin.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [user, password]);
    await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [user, password]);
    // what earlier versions granted (ALL on `ghost\_%` WITH GRANT OPTION, global CREATE USER) goes, every time
    await admin.query("REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@'%'", [user]);
    for (const procedure of PROCEDURES) {
        await admin.query(`GRANT EXECUTE ON PROCEDURE ${PROVISIONING_SCHEMA}.${procedure} TO ?@'%'`, [user]);
    }
    console.log(`bootstrap: provisioner ${user} may only call ${PROCEDURES.map((p) => `${PROVISIONING_SCHEMA}.${p}`).join(' and ')}`);
}

async function removeProvisioner(admin, user) {
    const [users] = await admin.query("SELECT COUNT(*) AS n FROM mysql.user WHERE user = ? AND host = '%'", [user]);
    await admin.query("DROP USER IF EXISTS ?@'%'", [user]);
    await admin.query(`DROP DATABASE IF EXISTS ${PROVISIONING_SCHEMA}`);
    if (users[0].n > 0) {
        console.log(`bootstrap: provisioner ${user} removed (this environment hosts no personal stacks)`);
    }
}

async function asAdmin(admin) {
    const user = conn.user;
    const provisioner = process.env.GHOST_DB_PROVISIONER_USER;
    if (provisioner) {
        if (fs.existsSync(path.join(provisionerDir, 'password'))) {
            await installProvisioner(admin, provisioner);
        } else {
            await removeProvisioner(admin, provisioner);
        }
    }
    const password = read(dbDir, 'password');
    await admin.query('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4', [conn.database]);
    await admin.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [user, password]);
    await admin.query("ALTER USER ?@'%' IDENTIFIED BY ?", [user, password]);
    // In GRANT, `_` and `%` in a database name are wildcards: escape them so the grant names exactly this database
    const exactly = conn.database.replace(/[_%]/g, '\\$&');
    await admin.query("GRANT ALL PRIVILEGES ON ??.* TO ?@'%'", [exactly, user]);
    console.log(`bootstrap: database ${conn.database} and user ${user} are ready`);
}

async function viaProvisioner(admin, drop) {
    const [results] = drop
        ? await admin.query(`CALL ${PROVISIONING_SCHEMA}.drop_personal(?)`, [conn.database])
        : await admin.query(`CALL ${PROVISIONING_SCHEMA}.provision_personal(?, ?)`, [conn.database, read(dbDir, 'password')]);
    const made = results[0][0];
    if (made.user !== conn.user || made.database !== conn.database) { // the program and the procedures disagree
        throw new Error(`the provisioner derived user ${made.user} for database ${made.database}; Ghost is configured `
            + `with user ${conn.user} for ${conn.database}`);
    }
    console.log(drop ? `bootstrap: database ${conn.database} and user ${conn.user} are dropped`
        : `bootstrap: database ${conn.database} and user ${conn.user} are ready`);
}

async function main() {
    if (access !== 'admin' && access !== 'provisioner') {
        throw new Error(`GHOST_DB_ACCESS is ${JSON.stringify(access)}: expected admin or provisioner`);
    }
    const admin = await mysql.createConnection({
        // Ghost's own env overrides carry what only the cloud knows (the database endpoint)
        host: process.env.database__connection__host || conn.host,
        port: Number(process.env.database__connection__port || conn.port || 3306),
        user: read(adminDir, 'user'), password: read(adminDir, 'password'),
        ssl: conn.ssl, // the same verified TLS as Ghost: the RDS CA profile, or a CA given in the config
        multipleStatements: false
    });
    try {
        const drop = process.env.GHOST_BOOTSTRAP_MODE === 'drop'; // a personal stack's teardown, before its destroy
        if (access === 'provisioner') {
            await viaProvisioner(admin, drop);
        } else if (drop) {
            throw new Error('GHOST_BOOTSTRAP_MODE=drop is for personal stacks only (GHOST_DB_ACCESS=provisioner)');
        } else {
            await asAdmin(admin);
        }
    } finally {
        await admin.end();
    }
}

main().catch((err) => {
    console.error(`bootstrap failed: ${err.code || ''} ${err.message}`);
    process.exit(1);
});
