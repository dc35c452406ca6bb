/// `PodTemplateSpec`: the pods a Job creates.
public struct KubernetesPodTemplate: Codable, Sendable, Equatable {
    public var metadata: KubernetesObjectMeta?
    public var spec: KubernetesPodSpec

    public init(metadata: KubernetesObjectMeta?, spec: KubernetesPodSpec) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `PodSpec`: the fields Trainyard writes.
public struct KubernetesPodSpec: Codable, Sendable, Equatable {
    public var restartPolicy: String?
    public var containers: [KubernetesContainer]
    public var nodeSelector: [String: String]?
    public var tolerations: [KubernetesToleration]?
    public var serviceAccountName: String?

    public init(
        restartPolicy: String?, containers: [KubernetesContainer], nodeSelector: [String: String]? = nil,
        tolerations: [KubernetesToleration]? = nil, serviceAccountName: String? = nil
    ) {
        self.restartPolicy = restartPolicy
        self.containers = containers
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.serviceAccountName = serviceAccountName
    }
}

/// `Toleration`.
public struct KubernetesToleration: Codable, Sendable, Equatable {
    public var key: String?
    /// `Exists` or `Equal`.
    public var `operator`: String?
    public var value: String?
    /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`.
    public var effect: String?

    public init(key: String? = nil, operator: String? = nil, value: String? = nil, effect: String? = nil) {
        self.key = key
        self.operator = `operator`
        self.value = value
        self.effect = effect
    }
}

/// `Container`.
public struct KubernetesContainer: Codable, Sendable, Equatable {
    public var name: String
    public var image: String
    public var command: [String]?
    public var args: [String]?
    public var env: [EnvVar]?
    public var envFrom: [EnvFromSource]?
    public var resources: Resources?

    public init(
        name: String, image: String, command: [String]?, args: [String]?, env: [EnvVar]?, envFrom: [EnvFromSource]?, resources: Resources?
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.envFrom = envFrom
        self.resources = resources
    }

    /// `EnvVar`: a literal value or a reference (never both).
    public struct EnvVar: Codable, Sendable, Equatable {
        public var name: String
        public var value: String?
        public var valueFrom: ValueSource?

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        public init(name: String, secretName: String, key: String) {
            self.name = name
            self.valueFrom = ValueSource(secretKeyRef: SecretKeySelector(name: secretName, key: key))
        }
    }

    /// `EnvVarSource` (only `secretKeyRef` is used).
    public struct ValueSource: Codable, Sendable, Equatable {
        public var secretKeyRef: SecretKeySelector?
    }

    /// `SecretKeySelector`.
    public struct SecretKeySelector: Codable, Sendable, Equatable {
        public var name: String
        public var key: String
    }

    /// `EnvFromSource`: every key of a secret becomes a variable, with an optional prefix.
    public struct EnvFromSource: Codable, Sendable, Equatable {
        public var prefix: String?
        public var secretRef: SecretReference?

        public init(prefix: String?, secretName: String) {
            self.prefix = prefix
            self.secretRef = SecretReference(name: secretName)
        }
    }

    /// `SecretEnvSource`.
    public struct SecretReference: Codable, Sendable, Equatable {
        public var name: String
    }

    /// `ResourceRequirements`: quantities as Kubernetes writes them (`500m`, `2Gi`, `1`).
    public struct Resources: Codable, Sendable, Equatable {
        public var requests: [String: String]?
        public var limits: [String: String]?

        public init(requests: [String: String]?, limits: [String: String]?) {
            self.requests = requests
            self.limits = limits
        }
    }
}
