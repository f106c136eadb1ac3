"""Every stack setting, read once, validated, and frozen.

``load_settings`` turns the raw strings Pulumi hands a program (``pulumi.Config``) into one
immutable :class:`Settings` object. Components never read config: ``__main__`` passes them the
values they need through their typed Args.

Errors name the stack, the config key, the bad value (masked for secrets) and what is expected,
and are raised before any resource is declared.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

PROJECT = "ghost-gitops"

#: Kubernetes versions EKS supports (standard or extended support) that this project is tested with.
SUPPORTED_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35")
#: CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

_GHOST_IMAGE = re.compile(
    r"^(?:[a-z0-9.\-]+(?::\d+)?/)?(?:library/)?ghost:6\.\d+\.\d+(?:-alpine)?(?:@sha256:[0-9a-f]{64})?$"
)
_QUANTITY_CPU = re.compile(r"^(?:\d+m|\d+(?:\.\d+)?)$")
_QUANTITY_MEM = re.compile(r"^\d+(?:Mi|Gi)$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_REGION = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")
_K8S_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: The databases personal stacks get on their host's instance (the provisioner's procedures check the same pattern:
#: apps/ghost/scripts/provisioner.sql): ghost_<name> with the personal name's '-' as '_'.
PERSONAL_DATABASE = re.compile(r"^ghost_[a-z0-9](?:[a-z0-9_]{0,28}[a-z0-9])?$")
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_MYSQL_VERSION = re.compile(r"^8\.(?:0|4)(?:\.\d+)?$")
_STACK_REF = re.compile(r"^(?:[A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
#: AWS tag values: letters, digits, spaces and _ . : / = + - @, at most 256 characters (AWS "Tagging your resources")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")

#: Config keys whose values are secrets: never echoed in an error message.
SECRET_KEYS = frozenset({"smtpPassword"})
#: Keys whose raw value is JSON (structured config in the stack file).
JSON_KEYS = frozenset({"availabilityZones", "clusterPublicAccessCidrs", "clusterAdminRoleArns", "tags"})

Environment = Literal["integration", "production", "personal"]


class SettingsError(ValueError):
    """A config value is missing or invalid. ``str()`` is the user-facing message.

    :param file_stack: the stack whose file holds the value (a personal stack's config is its template's file);
        default: ``stack``.
    :param fix: how to fix it, when it is not "set the key" (an unknown key: rename it).
    """

    def __init__(self, stack: str, key: str, value: object, expected: str, *, file_stack: str | None = None,
                 fix: str | None = None) -> None:
        self.stack, self.key, self.value, self.expected, self.fix = stack, key, value, expected, fix
        self.file_stack = file_stack or stack
        shown = "(not set)" if value is None else repr(value)
        where = f"Pulumi.{self.file_stack}.yaml"
        if self.file_stack != stack:
            where += f" (personal stack {stack} takes its config from stack {self.file_stack})"
        how = fix or f"pulumi config set{'' if self.file_stack == stack else ' --stack ' + self.file_stack} {_qualified(key)} ..."
        super().__init__(
            f"stack '{stack}': config key '{_qualified(key)}' has invalid value {shown}: "
            f"expected {expected}. Fix it in {where} ({how})."
        )

    def located(self, file_stack: str) -> SettingsError:
        """The same error, naming the file of ``file_stack`` as the one to fix."""
        return SettingsError(self.stack, self.key, self.value, self.expected, file_stack=file_stack, fix=self.fix)


#: Config namespaces a stack file may use besides the project's: the providers and packages the program uses
#: (requirements.txt) and Pulumi's own settings (``pulumi:disable-default-providers``, ``pulumi:tags``).
KNOWN_NAMESPACES = ("aws", "eks", "kubernetes", "random", "pulumi")


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt ``word`` (difflib's ratio ≥ 0.6), or None."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_error(stack: str, key: str, value: object, known: Iterable[str]) -> SettingsError:
    """An unknown key (``key`` as written, with or without namespace): refused, naming the key it probably meant."""
    guess = nearest(key, known)
    hint = f"did you mean '{_qualified(guess)}'?" if guess else "no documented key is close to it"
    return SettingsError(stack, key, value, f"a key documented in Pulumi.yaml (unknown key; {hint})",
                         fix=f"rename it to '{_qualified(guess)}'" if guess else "remove it, or see the README's configuration table")


def check_namespaces(stack: str, keys: Iterable[str]) -> None:
    """Refuse a key in a namespace that is neither the project's nor one of :data:`KNOWN_NAMESPACES`: a misspelt
    namespace (``ghost-gitop:ghostStorageGb``) would otherwise be ignored and the default deployed."""
    namespaces = (PROJECT, *KNOWN_NAMESPACES)
    ours = [f"{PROJECT}:{k}" for k in config_keys()]
    for key in sorted(keys):
        namespace, sep, name = key.partition(":")
        if sep and namespace not in namespaces:
            guess = nearest(key, ours) or (f"{nearest(namespace, namespaces)}:{name}" if nearest(namespace, namespaces) else None)
            hint = f"did you mean '{guess}'?" if guess else f"known namespaces: {', '.join(namespaces)}"
            raise SettingsError(stack, key, None, f"a namespace of this project or of a provider it uses "
                                f"(unknown namespace '{namespace}'; {hint})",
                                fix=f"rename it to '{guess}'" if guess else "remove it")


def _qualified(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


class Settings(BaseModel):
    """All settings of one stack. Field aliases are the config keys documented in Pulumi.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    stack: str
    region: Annotated[str, Field(alias="aws:region")]
    environment: Annotated[Environment, Field(alias="environment")]
    # network
    vpc_cidr: Annotated[str, Field(alias="vpcCidr")] = "10.0.0.0/16"
    availability_zones: Annotated[tuple[str, ...], Field(alias="availabilityZones", min_length=2, max_length=4)] = ()
    nat_gateways: Annotated[Literal["single", "perAz"], Field(alias="natGateways")] = "single"
    flow_log_retention_days: Annotated[int, Field(alias="flowLogRetentionDays")] = 90
    # cluster
    kubernetes_version: Annotated[str, Field(alias="kubernetesVersion")] = "1.35"
    #: EKS upgradePolicy.supportType: what happens at the end of the version's standard support (README, "Version
    #: support"): STANDARD here by default (EKS upgrades; never the silent surcharge), EXTENDED AWS's default
    cluster_support_type: Annotated[Literal["STANDARD", "EXTENDED"], Field(alias="clusterSupportType")] = "STANDARD"
    cluster_public_access_cidrs: Annotated[tuple[str, ...], Field(alias="clusterPublicAccessCidrs")] = ()
    cluster_admin_role_arns: Annotated[tuple[str, ...], Field(alias="clusterAdminRoleArns")] = ()
    # database
    db_engine_version: Annotated[str, Field(alias="dbEngineVersion")] = "8.4"
    db_instance_class: Annotated[str, Field(alias="dbInstanceClass")] = "db.t4g.micro"
    db_allocated_storage_gb: Annotated[int, Field(alias="dbAllocatedStorageGb", ge=20, le=16384)] = 20
    db_max_allocated_storage_gb: Annotated[int, Field(alias="dbMaxAllocatedStorageGb", ge=20, le=16384)] = 100
    db_backup_retention_days: Annotated[int, Field(alias="dbBackupRetentionDays", ge=7, le=35)] = 7
    db_multi_az: Annotated[bool, Field(alias="dbMultiAz")] = False
    db_deletion_protection: Annotated[bool, Field(alias="dbDeletionProtection")] = False
    db_final_snapshot: Annotated[bool, Field(alias="dbFinalSnapshot")] = False
    db_apply_immediately: Annotated[bool, Field(alias="dbApplyImmediately")] = False
    #: RDS engine_lifecycle_support: extended (AWS's default, RDS Extended Support) or disabled (RDS upgrades)
    db_lifecycle_support: Annotated[Literal["extended", "disabled"], Field(alias="dbLifecycleSupport")] = "extended"
    # ghost
    ghost_image: Annotated[str, Field(alias="ghostImage")] = "ghost:6.65.0-alpine"
    ghost_hostname: Annotated[str | None, Field(alias="ghostHostname")] = None
    ghost_certificate_arn: Annotated[str | None, Field(alias="ghostCertificateArn")] = None
    ghost_namespace: Annotated[str, Field(alias="ghostNamespace")] = "ghost"
    ghost_database_name: Annotated[str, Field(alias="ghostDatabaseName")] = "ghost"
    ghost_storage_gb: Annotated[int, Field(alias="ghostStorageGb", ge=1, le=1024)] = 10
    ghost_cpu_request: Annotated[str, Field(alias="ghostCpuRequest")] = "250m"
    ghost_cpu_limit: Annotated[str, Field(alias="ghostCpuLimit")] = "1"
    ghost_memory_request: Annotated[str, Field(alias="ghostMemoryRequest")] = "512Mi"
    ghost_memory_limit: Annotated[str, Field(alias="ghostMemoryLimit")] = "1Gi"
    # mail (optional)
    smtp_host: Annotated[str | None, Field(alias="smtpHost")] = None
    smtp_port: Annotated[int, Field(alias="smtpPort", ge=1, le=65535)] = 587
    smtp_user: Annotated[str | None, Field(alias="smtpUser")] = None
    smtp_password: Annotated[SecretStr | None, Field(alias="smtpPassword")] = None
    mail_from: Annotated[str | None, Field(alias="mailFrom")] = None
    ghost_staff_device_verification: Annotated[bool, Field(alias="ghostStaffDeviceVerification")] = True
    #: set by the engine before destroying a personal stack (environments.yaml: before_destroy_config)
    ghost_teardown: Annotated[bool, Field(alias="ghostTeardown")] = False
    #: environment stacks that personal stacks run on (the `template` of a personal rule in environments.yaml):
    #: their bootstrap installs the personal stacks' database provisioner, and they export its credentials
    hosts_personal_stacks: Annotated[bool, Field(alias="hostsPersonalStacks")] = False
    # personal stacks
    shared_stack: Annotated[str | None, Field(alias="sharedStack")] = None
    # everything
    tags: Mapping[str, str] = Field(default_factory=dict)

    # -- single-field rules -------------------------------------------------------------
    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not _REGION.match(v):
            raise ValueError("an AWS region name such as 'us-east-1'")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v, strict=True)
        except ValueError:
            raise ValueError("an IPv4 network in CIDR notation such as '10.0.0.0/16'") from None
        if not 16 <= net.prefixlen <= 20:
            raise ValueError("a CIDR with a prefix between /16 and /20 (room for the subnets)")
        if not net.is_private:
            raise ValueError("a private (RFC 1918) range")
        return v

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"one of the CloudWatch retention periods {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return v

    @field_validator("kubernetes_version")
    @classmethod
    def _k8s_version(cls, v: str) -> str:
        if v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError(f"a supported EKS Kubernetes version: one of {', '.join(SUPPORTED_KUBERNETES_VERSIONS)}")
        return v

    @field_validator("cluster_public_access_cidrs")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in v:
            try:
                ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"a list of IPv4 CIDRs; {cidr!r} is not one") from None
        return v

    @field_validator("cluster_admin_role_arns")
    @classmethod
    def _role_arns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for arn in v:
            if not _IAM_ROLE_ARN.match(arn):
                raise ValueError(f"a list of IAM role ARNs; {arn!r} is not one")
        return v

    @field_validator("db_engine_version")
    @classmethod
    def _mysql(cls, v: str) -> str:
        if not _MYSQL_VERSION.match(v):
            raise ValueError("a MySQL 8 engine version such as '8.4' or '8.0.40' (Ghost supports MySQL 8 only)")
        return v

    @field_validator("db_instance_class")
    @classmethod
    def _instance_class(cls, v: str) -> str:
        if not _INSTANCE_CLASS.match(v):
            raise ValueError("an RDS instance class such as 'db.t4g.micro'")
        return v

    @field_validator("ghost_image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not _GHOST_IMAGE.match(v):
            raise ValueError("a pinned Ghost 6 image such as 'ghost:6.65.0-alpine' (optionally @sha256:<digest>); never 'latest'")
        return v

    @field_validator("ghost_hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and not _DNS_NAME.match(v):
            raise ValueError("a lower-case DNS name such as 'blog.example.com'")
        return v

    @field_validator("ghost_certificate_arn")
    @classmethod
    def _cert(cls, v: str | None) -> str | None:
        if v is not None and not _ACM_ARN.match(v):
            raise ValueError("an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
        return v

    @field_validator("ghost_namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not _K8S_NAME.match(v) or v in {"default", "kube-system", "kube-public", "kube-node-lease"}:
            raise ValueError("a DNS-1123 label (lower-case letters, digits, '-') other than a system namespace")
        return v

    @field_validator("ghost_database_name")
    @classmethod
    def _db_name(cls, v: str) -> str:
        if not _DB_NAME.match(v):
            raise ValueError("a MySQL database name: a letter, then letters, digits or '_' (64 at most)")
        return v

    @field_validator("ghost_cpu_request", "ghost_cpu_limit")
    @classmethod
    def _cpu(cls, v: str) -> str:
        if not _QUANTITY_CPU.match(v):
            raise ValueError("a CPU quantity such as '250m' or '1'")
        return v

    @field_validator("ghost_memory_request", "ghost_memory_limit")
    @classmethod
    def _mem(cls, v: str) -> str:
        if not _QUANTITY_MEM.match(v):
            raise ValueError("a memory quantity in Mi or Gi such as '512Mi'")
        return v

    @field_validator("shared_stack")
    @classmethod
    def _shared(cls, v: str | None) -> str | None:
        if v is not None and not _STACK_REF.match(v):
            raise ValueError("a stack reference such as 'dev' or 'org/ghost-gitops/dev'")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: Mapping[str, str]) -> Mapping[str, str]:
        for key, value in v.items():
            if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
                raise ValueError(f"an object of AWS tags; tag key {key!r} is not allowed")
            if not isinstance(value, str) or not _TAG_VALUE.match(value):
                raise ValueError(f"an object of AWS tags; the value of tag {key!r} may hold only letters, digits, spaces "
                                 "and _ . : / = + - @ (at most 256 characters)")
        return dict(v)

    # -- derived ------------------------------------------------------------------------
    @property
    def is_personal(self) -> bool:
        return self.environment == "personal"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def public_url(self) -> str | None:
        """Ghost's ``url`` when a hostname is configured; otherwise it follows the ALB's DNS name."""
        return f"https://{self.ghost_hostname}" if self.ghost_hostname else None

    @property
    def mail_enabled(self) -> bool:
        return self.smtp_host is not None

    @staticmethod
    def cpu_millicores(quantity: str) -> float:
        return float(quantity[:-1]) if quantity.endswith("m") else float(quantity) * 1000

    def memory_mib(self, quantity: str) -> int:
        return int(quantity[:-2]) * (1024 if quantity.endswith("Gi") else 1)

    def resource_tags(self) -> dict[str, str]:
        return {"project": PROJECT, "stack": self.stack, "environment": self.environment, "managed-by": "pulumi", **self.tags}


def _cross_field(s: Settings) -> None:
    """Rules that involve more than one key. Raises the first violation found."""
    stack = s.stack
    if s.db_max_allocated_storage_gb < s.db_allocated_storage_gb:
        raise SettingsError(stack, "dbMaxAllocatedStorageGb", s.db_max_allocated_storage_gb,
                            f"a value >= dbAllocatedStorageGb ({s.db_allocated_storage_gb})")
    if s.memory_mib(s.ghost_memory_limit) < s.memory_mib(s.ghost_memory_request):
        raise SettingsError(stack, "ghostMemoryLimit", s.ghost_memory_limit, f"at least ghostMemoryRequest ({s.ghost_memory_request})")
    if s.cpu_millicores(s.ghost_cpu_limit) < s.cpu_millicores(s.ghost_cpu_request):
        # the API server refuses such a pod ("must be less than or equal to cpu limit"), after the rest was applied
        raise SettingsError(stack, "ghostCpuLimit", s.ghost_cpu_limit, f"at least ghostCpuRequest ({s.ghost_cpu_request})")
    if s.memory_mib(s.ghost_memory_limit) < 512:
        raise SettingsError(stack, "ghostMemoryLimit", s.ghost_memory_limit, "at least 512Mi (Ghost uses about 300 MB when warm)")
    if (s.ghost_hostname is None) != (s.ghost_certificate_arn is None):
        missing = "ghostCertificateArn" if s.ghost_certificate_arn is None else "ghostHostname"
        raise SettingsError(stack, missing, None, "ghostHostname and ghostCertificateArn to be set together (HTTPS needs both)")
    if s.smtp_host is not None:
        for key, value in (("smtpUser", s.smtp_user), ("smtpPassword", s.smtp_password), ("mailFrom", s.mail_from)):
            if value is None:
                raise SettingsError(stack, key, None, "a value whenever smtpHost is set")
    elif s.ghost_staff_device_verification:
        raise SettingsError(stack, "ghostStaffDeviceVerification", True,
                            "false when smtpHost is not set: staff device verification e-mails a sign-in code, and "
                            "without mail every sign-in from a new browser fails (Ghost answers 500). Configure SMTP, "
                            "or set it to false explicitly (a password alone then protects staff sign-in)")
    if s.ghost_teardown and not s.is_personal:
        raise SettingsError(stack, "ghostTeardown", True, "false: only personal stacks are torn down (before destroy)")
    if s.is_personal:
        if s.hosts_personal_stacks:
            raise SettingsError(stack, "hostsPersonalStacks", True, "false: a personal stack hosts no other personal stacks")
        if s.shared_stack is None:
            raise SettingsError(stack, "sharedStack", None, "the integration stack a personal stack runs on, e.g. 'dev'")
        return
    if s.shared_stack is not None:
        raise SettingsError(stack, "sharedStack", s.shared_stack, "no value: only personal stacks use a shared stack")
    if s.hosts_personal_stacks and PERSONAL_DATABASE.match(s.ghost_database_name):
        raise SettingsError(stack, "ghostDatabaseName", s.ghost_database_name,
                            "a name outside the personal stacks' ghost_<name> pattern on a stack that hosts them, "
                            "such as 'ghost'")
    if len(s.availability_zones) < 2:
        raise SettingsError(stack, "availabilityZones", list(s.availability_zones) or None, "a list of 2 to 4 availability zones")
    for az in s.availability_zones:
        if not (az.startswith(s.region) and len(az) == len(s.region) + 1 and az[-1].isalpha()):
            raise SettingsError(stack, "availabilityZones", az, f"zones of region {s.region}, such as '{s.region}a'")
    if len(set(s.availability_zones)) != len(s.availability_zones):
        raise SettingsError(stack, "availabilityZones", list(s.availability_zones), "distinct zones")
    if s.is_production:
        if "0.0.0.0/0" in s.cluster_public_access_cidrs:
            raise SettingsError(stack, "clusterPublicAccessCidrs", list(s.cluster_public_access_cidrs),
                                "specific CIDRs: production never opens the Kubernetes API to 0.0.0.0/0")
        for flag, enabled in (("dbMultiAz", s.db_multi_az), ("dbDeletionProtection", s.db_deletion_protection),
                              ("dbFinalSnapshot", s.db_final_snapshot)):
            if not enabled:
                raise SettingsError(stack, flag, enabled, "true in production")
        if s.nat_gateways != "perAz":
            raise SettingsError(stack, "natGateways", s.nat_gateways, "'perAz' in production (no single point of failure)")


def load_settings(stack: str, values: Mapping[str, str | None]) -> Settings:
    """Validate raw config strings (keys as in Pulumi.yaml, plus ``aws:region``) into Settings.

    :param stack: the stack name, used in error messages.
    :param values: config key -> raw string as Pulumi stores it (structured values as JSON).
    :raises SettingsError: on the first invalid or missing value.
    """
    raw: dict[str, Any] = {"stack": stack}
    for key, value in values.items():
        if value is None or value == "":  # Pulumi.yaml declares "" as the default of optional keys: unset
            continue
        if key in JSON_KEYS:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raise SettingsError(stack, key, value, "structured config (a YAML list or object in the stack file)") from None
        else:
            raw[key] = value
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise _first_error(stack, exc, raw) from None
    _cross_field(settings)
    return settings


def _first_error(stack: str, exc: ValidationError, raw: Mapping[str, Any]) -> SettingsError:
    err = exc.errors(include_url=False)[0]
    loc = err["loc"]
    key = str(loc[0]) if loc else "stack"
    value = None if err["type"] == "missing" else raw.get(key)
    if key in SECRET_KEYS and value is not None:
        value = "[secret]"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif err["type"] == "missing":
        msg = "a value (this key is required)"
    elif err["type"] == "extra_forbidden":
        return unknown_key_error(stack, key, "[value not shown]", config_keys())  # it may be a misspelt secret key
    elif err["type"] == "literal_error":
        msg = msg.replace("Input should be", "one of")
    else:
        msg = msg.replace("Input should be", "").strip()
    return SettingsError(stack, key, value, msg)


#: Config keys of this project (without namespace), in the order Pulumi.yaml documents them.
def config_keys() -> tuple[str, ...]:
    return (*tuple(f.alias for name, f in Settings.model_fields.items() if f.alias and ":" not in f.alias), "tags")
