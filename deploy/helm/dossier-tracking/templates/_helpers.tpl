{{/* Names: every object is `<release>-<what>`; the Kafka cluster and the database are the release's. */}}
{{- define "dossier.name" -}}
{{- printf "%s-%s" .root.Release.Name .what | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dossier.kafkaCluster" -}}{{ .Release.Name }}-kafka{{- end -}}
{{- define "dossier.kafkaBootstrap" -}}
{{- include "dossier.kafkaCluster" . }}-kafka-bootstrap:{{ .Values.kafka.listenerPort -}}
{{- end -}}
{{- define "dossier.postgresCluster" -}}{{ .Release.Name }}-db{{- end -}}
{{- define "dossier.pooler" -}}{{ .Release.Name }}-db-pooler{{- end -}}

{{/* Labels of every object; `component` (intake, processing, metrics, kafka, …) when given. */}}
{{- define "dossier.labels" -}}
app.kubernetes.io/name: dossier-tracking
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The labels that select one workload's pods. */}}
{{- define "dossier.selector" -}}
app.kubernetes.io/name: dossier-tracking
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .workload }}
dossier-tracking/workload: {{ . }}
{{- end }}
{{- end -}}

{{- define "dossier.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding a service's API keys file, and its checksum (a changed file rolls the pods). */}}
{{- define "dossier.apiKeysSecret" -}}
{{- $keys := index .root.Values .component "apiKeys" -}}
{{- $keys.existingSecret | default (include "dossier.name" (dict "root" .root "what" (printf "%s-api-keys" .component))) -}}
{{- end -}}

{{/* The KafkaUser of a service: its name is the SCRAM user name; Strimzi writes its password into a
Secret of the same name. */}}
{{- define "dossier.kafkaUser" -}}
{{- include "dossier.name" (dict "root" .root "what" .component) -}}
{{- end -}}

{{/* Environment every service shares: Kafka over TLS with the service's SCRAM user, topics replicated. */}}
{{- define "dossier.kafkaEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "dossier.kafkaBootstrap" .root | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: SASL_SSL
- name: KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: KAFKA_SASL_USERNAME
  value: {{ include "dossier.kafkaUser" . | quote }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dossier.kafkaUser" . }}
      key: password
- name: KAFKA_SSL_CA_FILE
  value: /etc/dossier/kafka-ca/ca.crt
- name: KAFKA_REPLICATION_FACTOR
  value: {{ .root.Values.kafka.replicationFactor | quote }}
- name: KAFKA_MIN_INSYNC_REPLICAS
  value: {{ .root.Values.kafka.minInsyncReplicas | quote }}
- name: KAFKA_EVENTS_RETENTION_DAYS
  value: {{ .root.Values.topics.events.retentionDays | quote }}
- name: KAFKA_STATUS_RETENTION_DAYS
  value: {{ .root.Values.topics.status.retentionDays | quote }}
{{- end -}}

{{/* DATABASE_URL through the Pooler, with the credentials of CloudNativePG's app Secret (the
operator generates an alphanumeric password, so it needs no escaping in the URL). */}}
{{- define "dossier.databaseEnv" -}}
- name: DATABASE_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "dossier.postgresCluster" .root }}-app
      key: username
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dossier.postgresCluster" .root }}-app
      key: password
- name: DATABASE_URL
  value: {{ printf "postgresql://$(DATABASE_USER):$(DATABASE_PASSWORD)@%s:5432/%s" (include "dossier.pooler" .root) .root.Values.postgres.database | quote }}
{{- end -}}

{{/* `extra` (a map of NAME: value) as env entries, sorted. */}}
{{- define "dossier.extraEnv" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The NetworkPolicy peers allowed to reach a service's port: the given ones and Prometheus. */}}
{{- define "dossier.ingressRule" -}}
- ports:
    - port: http
      protocol: TCP
  {{- if .from }}
  from:
    {{- toYaml .from | nindent 4 }}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .root.Values.monitoring.namespace }}
  {{- end }}
{{- end -}}
