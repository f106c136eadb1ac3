-- The personal stacks' provisioner: definer-rights stored procedures on an environment's database instance.
--
-- A personal stack's credentials (the provisioner user, readable by whoever works on that branch) hold EXECUTE on
-- provision_personal and drop_personal, and nothing else: no CREATE USER, no GRANT, no privilege on any database.
-- The procedures run with the rights of the account that created them (the instance's administrator, through the
-- environment's bootstrap Job), and before doing anything they check the database name against the personal
-- pattern and derive the MySQL user from it, so the only databases and users they can touch are ghost_<name> and
-- the user the program derives for it (apps/ghost/component.py: mysql_user). Every statement they run is built
-- from those checked names and from the password through QUOTE().
--
-- Installed by apps/ghost/scripts/bootstrap.js (environment stacks that host personal stacks), statement by
-- statement: statements are separated by a line holding only `$$`. {{RESERVED_DATABASE}} is replaced by the
-- environment's own database name as an SQL literal (never usable by a personal stack, whatever its name).
-- Runs the same on MySQL 8.4 (RDS) and MariaDB 10.11 (the tests): no REGEXP_LIKE (MariaDB lacks it), no
-- CREATE OR REPLACE PROCEDURE (MySQL lacks it), case-sensitivity checked by a binary comparison because MySQL 8's
-- REGEXP follows the (case-insensitive) collation, and procedures only (RDS binary logging refuses functions
-- without log_bin_trust_function_creators).
CREATE DATABASE IF NOT EXISTS gitops_provisioning CHARACTER SET utf8mb4
$$
DROP PROCEDURE IF EXISTS gitops_provisioning.personal_user
$$
CREATE PROCEDURE gitops_provisioning.personal_user(IN p_database VARCHAR(255), OUT p_user VARCHAR(32))
    DETERMINISTIC
    NO SQL
    SQL SECURITY DEFINER
    COMMENT 'ghost-gitops: check a personal database name, return the MySQL user derived from it'
BEGIN
    IF p_database IS NULL
       OR CHAR_LENGTH(p_database) <> LENGTH(p_database)
       OR CAST(p_database AS BINARY) <> CAST(LOWER(p_database) AS BINARY)
       OR NOT (p_database REGEXP '^ghost_[a-z0-9]([a-z0-9_]{0,28}[a-z0-9])?$')
       OR p_database = {{RESERVED_DATABASE}} THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
            'ghost-gitops provisioner: refused database name: personal databases are ghost_<name> (name: 1-30 lower-case letters, digits or _, starting and ending with a letter or digit) and never the environment''s own';
    END IF;
    -- MySQL user names have 32 characters at most: longer ones keep 23 and add 8 of the name's SHA-256
    IF CHAR_LENGTH(p_database) + 6 <= 32 THEN
        SET p_user = CONCAT('ghost_', p_database);
    ELSE
        SET p_user = CONCAT(LEFT(CONCAT('ghost_', p_database), 23), '_', LEFT(SHA2(p_database, 256), 8));
    END IF;
END
$$
DROP PROCEDURE IF EXISTS gitops_provisioning.provision_personal
$$
CREATE PROCEDURE gitops_provisioning.provision_personal(IN p_database VARCHAR(255), IN p_password TEXT)
    MODIFIES SQL DATA
    SQL SECURITY DEFINER
    COMMENT 'ghost-gitops: create a personal database and its user, or set that user''s password'
BEGIN
    DECLARE v_user VARCHAR(32);
    CALL gitops_provisioning.personal_user(p_database, v_user);
    IF p_password IS NULL
       OR CHAR_LENGTH(p_password) NOT BETWEEN 16 AND 128
       OR CHAR_LENGTH(p_password) <> LENGTH(p_password)
       OR LOCATE('''', p_password) > 0 OR LOCATE('"', p_password) > 0 OR LOCATE('\\', p_password) > 0
       OR p_password REGEXP '[[:cntrl:][:space:]]' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
            'ghost-gitops provisioner: refused password: 16-128 printable ASCII characters without quotes, backslash or spaces';
    END IF;
    SET @ghost_gitops_sql = CONCAT('CREATE DATABASE IF NOT EXISTS `', p_database, '` CHARACTER SET utf8mb4');
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    EXECUTE ghost_gitops_stmt;
    SET @ghost_gitops_sql = CONCAT('CREATE USER IF NOT EXISTS ''', v_user, '''@''%'' IDENTIFIED BY ', QUOTE(p_password));
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    SET @ghost_gitops_sql = NULL;
    EXECUTE ghost_gitops_stmt;
    SET @ghost_gitops_sql = CONCAT('ALTER USER ''', v_user, '''@''%'' IDENTIFIED BY ', QUOTE(p_password));
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    SET @ghost_gitops_sql = NULL;
    EXECUTE ghost_gitops_stmt;
    -- in GRANT, `_` is a wildcard: escaped, the grant names exactly this database
    SET @ghost_gitops_sql = CONCAT('GRANT ALL PRIVILEGES ON `', REPLACE(p_database, '_', '\\_'), '`.* TO ''', v_user, '''@''%''');
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    EXECUTE ghost_gitops_stmt;
    DEALLOCATE PREPARE ghost_gitops_stmt;
    SET @ghost_gitops_sql = NULL;
    SELECT p_database AS `database`, v_user AS `user`;
END
$$
DROP PROCEDURE IF EXISTS gitops_provisioning.drop_personal
$$
CREATE PROCEDURE gitops_provisioning.drop_personal(IN p_database VARCHAR(255))
    MODIFIES SQL DATA
    SQL SECURITY DEFINER
    COMMENT 'ghost-gitops: drop a personal database and its user'
BEGIN
    DECLARE v_user VARCHAR(32);
    CALL gitops_provisioning.personal_user(p_database, v_user);
    SET @ghost_gitops_sql = CONCAT('DROP DATABASE IF EXISTS `', p_database, '`');
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    EXECUTE ghost_gitops_stmt;
    SET @ghost_gitops_sql = CONCAT('DROP USER IF EXISTS ''', v_user, '''@''%''');
    PREPARE ghost_gitops_stmt FROM @ghost_gitops_sql;
    EXECUTE ghost_gitops_stmt;
    DEALLOCATE PREPARE ghost_gitops_stmt;
    SET @ghost_gitops_sql = NULL;
    SELECT p_database AS `database`, v_user AS `user`;
END
