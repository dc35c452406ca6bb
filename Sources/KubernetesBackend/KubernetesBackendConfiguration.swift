import TrainyardKubernetes

/// Settings of one Kubernetes backend target (one namespace of one cluster).
public struct KubernetesBackendConfiguration: Sendable {
    /// Where this target's Jobs are created and watched.
    public var namespace: String
    /// Added to every pod (e.g. `{nvidia.com/gpu.product: A100}`).
    public var nodeSelector: [String: String]
    public var tolerations: [KubernetesToleration]
    /// The pods' service account; nil uses the namespace's default.
    public var serviceAccountName: String?
    /// How long a finished Job stays for inspection. A worker that adopts an attempt after its
    /// Job was removed cannot know it ran, so keep this well above any hand-over delay.
    public var ttlSecondsAfterFinished: Int
    /// How long an image pull (or a missing secret) may keep failing before the attempt fails.
    public var waitingFailureGrace: Duration
    /// How long a finished Job waits for its pod's final status (separate watches) before the
    /// Job's own condition decides the outcome.
    public var podStatusGrace: Duration
    /// A full list replaces the watched state this often (reconciliation).
    public var relistInterval: Duration
    /// Asked of the server for each watch request (its `timeoutSeconds` parameter, whole seconds); it closes the stream after about this long.
    public var watchTimeoutSeconds: Int
    /// The container whose exit decides the outcome (others are sidecars).
    public var mainContainerName: String

    public init(
        namespace: String, nodeSelector: [String: String] = [:], tolerations: [KubernetesToleration] = [], serviceAccountName: String? = nil,
        ttlSecondsAfterFinished: Int = 86_400, waitingFailureGrace: Duration = .seconds(120), podStatusGrace: Duration = .seconds(10),
        relistInterval: Duration = .seconds(300),
        watchTimeoutSeconds: Int = 240, mainContainerName: String = "main"
    ) {
        self.namespace = namespace
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.serviceAccountName = serviceAccountName
        self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
        self.waitingFailureGrace = waitingFailureGrace
        self.podStatusGrace = podStatusGrace
        self.relistInterval = relistInterval
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.mainContainerName = mainContainerName
    }
}
