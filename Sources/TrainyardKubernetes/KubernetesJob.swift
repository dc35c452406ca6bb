/// A `batch/v1` Job: the fields Trainyard writes and reads.
public struct KubernetesJob: Codable, Sendable, Equatable {
    public var apiVersion: String? = "batch/v1"
    public var kind: String? = "Job"
    public var metadata: KubernetesObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: KubernetesObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }

    /// `JobSpec`.
    public struct Spec: Codable, Sendable, Equatable {
        public var backoffLimit: Int?
        public var activeDeadlineSeconds: Int?
        public var ttlSecondsAfterFinished: Int?
        public var podFailurePolicy: PodFailurePolicy?
        public var template: KubernetesPodTemplate

        public init(
            backoffLimit: Int?, activeDeadlineSeconds: Int?, ttlSecondsAfterFinished: Int?, podFailurePolicy: PodFailurePolicy?,
            template: KubernetesPodTemplate
        ) {
            self.backoffLimit = backoffLimit
            self.activeDeadlineSeconds = activeDeadlineSeconds
            self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
            self.podFailurePolicy = podFailurePolicy
            self.template = template
        }
    }

    /// `PodFailurePolicy`: how pod failures count against the Job.
    public struct PodFailurePolicy: Codable, Sendable, Equatable {
        public var rules: [Rule]

        public init(rules: [Rule]) { self.rules = rules }

        /// One rule: an action (`FailJob`, `Ignore`, `Count`, `FailIndex`) and what it matches.
        public struct Rule: Codable, Sendable, Equatable {
            public var action: String
            public var onPodConditions: [PodConditionPattern]?

            public init(action: String, onPodConditions: [PodConditionPattern]) {
                self.action = action
                self.onPodConditions = onPodConditions
            }
        }

        /// Matches a pod condition by type and status.
        public struct PodConditionPattern: Codable, Sendable, Equatable {
            public var type: String
            public var status: String

            public init(type: String, status: String) {
                self.type = type
                self.status = status
            }
        }
    }

    /// `JobStatus`.
    public struct Status: Codable, Sendable, Equatable {
        public var conditions: [Condition]?
        public var active: Int?
        public var succeeded: Int?
        public var failed: Int?
        public var startTime: String?
        public var completionTime: String?

        public init(conditions: [Condition]? = nil, active: Int? = nil, succeeded: Int? = nil, failed: Int? = nil) {
            self.conditions = conditions
            self.active = active
            self.succeeded = succeeded
            self.failed = failed
        }
    }

    /// `JobCondition` (`Complete`, `Failed`, `FailureTarget`, `SuccessCriteriaMet`, `Suspended`).
    public struct Condition: Codable, Sendable, Equatable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastTransitionTime: String?

        public init(type: String, status: String = "True", reason: String? = nil, message: String? = nil) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
        }
    }

    /// The condition of `type` whose status is `True`, if any.
    public func condition(_ type: String) -> Condition? {
        status?.conditions?.first { $0.type == type && $0.status == "True" }
    }
}
