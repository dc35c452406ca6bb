/// A `v1` Pod: the fields Trainyard reads (the Job controller creates them).
public struct KubernetesPod: Codable, Sendable, Equatable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Pod"
    public var metadata: KubernetesObjectMeta
    public var spec: KubernetesPodSpec?
    public var status: Status?

    public init(metadata: KubernetesObjectMeta, spec: KubernetesPodSpec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// `PodStatus`.
    public struct Status: Codable, Sendable, Equatable {
        /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
        public var phase: String?
        /// E.g. `Evicted`, `NodeLost`, `Shutdown`.
        public var reason: String?
        public var message: String?
        public var conditions: [Condition]?
        public var containerStatuses: [ContainerStatus]?
        public var startTime: String?

        public init(
            phase: String? = nil, reason: String? = nil, message: String? = nil, conditions: [Condition]? = nil,
            containerStatuses: [ContainerStatus]? = nil
        ) {
            self.phase = phase
            self.reason = reason
            self.message = message
            self.conditions = conditions
            self.containerStatuses = containerStatuses
        }
    }

    /// `PodCondition` (`PodScheduled`, `Ready`, `DisruptionTarget`…).
    public struct Condition: Codable, Sendable, Equatable {
        public var type: String
        public var status: String
        public var reason: String?
        public var message: String?

        public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
        }
    }

    /// `ContainerStatus`: the container's current and previous state.
    public struct ContainerStatus: Codable, Sendable, Equatable {
        public var name: String
        public var state: ContainerState?
        public var restartCount: Int?

        public init(name: String, state: ContainerState?) {
            self.name = name
            self.state = state
        }
    }

    /// `ContainerState`: exactly one of the three is set.
    public struct ContainerState: Codable, Sendable, Equatable {
        public var waiting: Waiting?
        public var running: Running?
        public var terminated: Terminated?

        public init(waiting: Waiting? = nil, running: Running? = nil, terminated: Terminated? = nil) {
            self.waiting = waiting
            self.running = running
            self.terminated = terminated
        }
    }

    /// `ContainerStateWaiting`: e.g. `ContainerCreating`, `ErrImagePull`, `ImagePullBackOff`.
    public struct Waiting: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?

        public init(reason: String?, message: String? = nil) {
            self.reason = reason
            self.message = message
        }
    }

    /// `ContainerStateRunning`.
    public struct Running: Codable, Sendable, Equatable {
        public var startedAt: String?

        public init(startedAt: String?) { self.startedAt = startedAt }
    }

    /// `ContainerStateTerminated`: the exit code and the kubelet's reason (`Completed`, `Error`, `OOMKilled`…).
    public struct Terminated: Codable, Sendable, Equatable {
        public var exitCode: Int32
        public var reason: String?
        public var message: String?
        public var startedAt: String?
        public var finishedAt: String?

        public init(exitCode: Int32, reason: String? = nil, message: String? = nil, startedAt: String? = nil, finishedAt: String? = nil) {
            self.exitCode = exitCode
            self.reason = reason
            self.message = message
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }
    }

    /// The status of the container called `name`.
    public func containerStatus(_ name: String) -> ContainerStatus? {
        status?.containerStatuses?.first { $0.name == name }
    }

    /// The condition of `type` whose status is `True`, if any.
    public func condition(_ type: String) -> Condition? {
        status?.conditions?.first { $0.type == type && $0.status == "True" }
    }
}
