{{/* Each service's own environment (besides HOST, PORT, the keys file and Kafka's), from values. */}}
{{- define "dossier.intakeEnv" -}}
- name: INTAKE_EVENTS_TOPIC
  value: {{ .Values.topics.events.name | quote }}
- name: INTAKE_DLQ_TOPIC
  value: {{ .Values.topics.deadLetters.name | quote }}
- name: INTAKE_TOPIC_PARTITIONS
  value: {{ .Values.topics.events.partitions | quote }}
- name: INTAKE_DLQ_RETENTION_DAYS
  value: {{ .Values.topics.deadLetters.retentionDays | quote }}
- name: INTAKE_FEEDBACK_TOPIC
  value: {{ .Values.topics.feedbackEvents.name | quote }}
{{- with .Values.applicantKeys.existingSecret }}
- name: INTAKE_APPLICANT_PUBLIC_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: public
{{- end }}
{{- end -}}

{{/* Arguments: root, and which workers run (consumer, relay, portal). */}}
{{- define "dossier.processingEnv" -}}
{{- $v := .root.Values -}}
{{ include "dossier.databaseEnv" . }}
- name: PROCESSING_EVENTS_TOPIC
  value: {{ $v.topics.events.name | quote }}
- name: PROCESSING_STATUS_TOPIC
  value: {{ $v.topics.status.name | quote }}
- name: PROCESSING_DLQ_TOPIC
  value: {{ $v.topics.deadLetters.name | quote }}
- name: PROCESSING_TOPIC_PARTITIONS
  value: {{ $v.topics.events.partitions | quote }}
- name: PROCESSING_DLQ_RETENTION_DAYS
  value: {{ $v.topics.deadLetters.retentionDays | quote }}
- name: PROCESSING_CONSUMER_GROUP
  value: {{ $v.processing.consumerGroup | quote }}
- name: PROCESSING_FEEDBACK_EVENTS_TOPIC
  value: {{ $v.topics.feedbackEvents.name | quote }}
- name: PROCESSING_FEEDBACK_STATUS_TOPIC
  value: {{ $v.topics.feedbackStatus.name | quote }}
- name: PROCESSING_FEEDBACK_CONSUMER_GROUP
  value: {{ $v.processing.feedbackConsumerGroup | quote }}
- name: PROCESSING_PORTAL_SYNC_TOPIC
  value: {{ $v.topics.portalSync.name | quote }}
- name: PROCESSING_RUN_CONSUMER
  value: {{ .consumer | quote }}
- name: PROCESSING_RUN_RELAY
  value: {{ .relay | quote }}
- name: PROCESSING_RUN_PORTAL
  value: {{ .portal | quote }}
{{- with $v.applicantKeys.existingSecret }}
- name: PROCESSING_APPLICANT_PRIVATE_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: private
{{- end }}
{{- if .portal }}
- name: PROCESSING_PORTAL_URL
  value: {{ $v.processing.portal.url | quote }}
{{- with $v.processing.portal.tokenSecret }}
- name: PROCESSING_PORTAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: token
{{- end }}
{{- with $v.processing.portal.loginUrl }}
- name: PROCESSING_PORTAL_LOGIN_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.processing.portal.accountSecret }}
- name: PROCESSING_PORTAL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: username
- name: PROCESSING_PORTAL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: password
{{- end }}
{{- with $v.processing.portal.unitCode }}
- name: PROCESSING_PORTAL_UNIT_CODE
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "dossier.metricsEnv" -}}
{{ include "dossier.databaseEnv" (dict "root" .) }}
- name: METRICS_STATUS_TOPIC
  value: {{ .Values.topics.status.name | quote }}
- name: METRICS_STATUS_TOPIC_PARTITIONS
  value: {{ .Values.topics.status.partitions | quote }}
- name: METRICS_CONSUMER_GROUP
  value: {{ .Values.metrics.consumerGroup | quote }}
- name: METRICS_FEEDBACK_STATUS_TOPIC
  value: {{ .Values.topics.feedbackStatus.name | quote }}
- name: METRICS_FEEDBACK_CONSUMER_GROUP
  value: {{ .Values.metrics.feedbackConsumerGroup | quote }}
- name: METRICS_PORTAL_SYNC_TOPIC
  value: {{ .Values.topics.portalSync.name | quote }}
- name: METRICS_PORTAL_SYNC_CONSUMER_GROUP
  value: {{ .Values.metrics.portalSyncConsumerGroup | quote }}
{{- end -}}
