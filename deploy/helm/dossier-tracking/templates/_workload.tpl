{{/*
One Deployment of a service's image. Arguments (a dict):
  root       the chart's root context
  component  intake | processing | metrics (the service: its port, command, keys, Kafka user)
  workload   optional: which of the service's workloads (processing: consumer, relay, portal)
  replicas   optional: fixed replicas (left out when an autoscaler owns them)
  resources  the container's resources
  env        the service's own environment, rendered as a YAML list
*/}}
{{- define "dossier.deployment" -}}
{{- $root := .root -}}
{{- $port := index (dict "intake" 8001 "processing" 8002 "metrics" 8003) .component -}}
{{- $prefix := upper .component -}}
{{- $name := include "dossier.name" (dict "root" $root "what" (ternary (printf "%s-%s" .component .workload) .component (not (empty .workload)))) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "dossier.labels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- with .workload }}
    dossier-tracking/workload: {{ . }}
    {{- end }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "dossier.selector" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "dossier.labels" (dict "root" $root "component" .component) | nindent 8 }}
        {{- with .workload }}
        dossier-tracking/workload: {{ . }}
        {{- end }}
      annotations:
        # A changed keys file rolls the pods, which read it at start.
        checksum/api-keys: {{ index $root.Values .component "apiKeys" | toJson | sha256sum }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      # Longer than the services' own shutdown grace (processing waits up to 30 s for its batch).
      terminationGracePeriodSeconds: 45
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile:
          type: RuntimeDefault
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "dossier.selector" . | nindent 14 }}
      containers:
        - name: {{ .component }}
          image: {{ include "dossier.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: [{{ printf "dossier-%s" .component | quote }}]
          ports:
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
          env:
            - name: {{ $prefix }}_HOST
              value: 0.0.0.0
            - name: {{ $prefix }}_PORT
              value: {{ $port | quote }}
            - name: {{ $prefix }}_API_KEYS_FILE
              value: /etc/dossier/api-keys/keys.csv
            {{- include "dossier.kafkaEnv" . | nindent 12 }}
            {{- .env | nindent 12 }}
            {{- include "dossier.extraEnv" (index $root.Values .component "env") | indent 12 }}
          startupProbe:
            # Start-up includes the schema migrations and the first connection to Kafka.
            httpGet: {path: /healthz, port: http}
            periodSeconds: 5
            failureThreshold: 36
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 2
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: api-keys
              mountPath: /etc/dossier/api-keys
              readOnly: true
            - name: kafka-ca
              mountPath: /etc/dossier/kafka-ca
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: api-keys
          secret:
            secretName: {{ include "dossier.apiKeysSecret" . }}
        - name: kafka-ca
          secret:
            # Written by Strimzi: the CA that signed the brokers' certificates.
            secretName: {{ include "dossier.kafkaCluster" $root }}-cluster-ca-cert
            items:
              - key: ca.crt
                path: ca.crt
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
{{- end -}}

{{/* A PodDisruptionBudget for one workload: a drain takes one pod at a time. */}}
{{- define "dossier.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "dossier.name" (dict "root" .root "what" (ternary (printf "%s-%s" .component .workload) .component (not (empty .workload)))) }}
  labels:
    {{- include "dossier.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "dossier.selector" . | nindent 6 }}
{{- end -}}
