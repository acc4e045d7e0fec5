// Recordings as `/api/recordings` and `/api/recordings/{id}` send them.

export interface RecordingItem {
  id: number;
  call_uid: string;
  line: string;
  started_at: number;
  duration_ms: number;
  state: string;
  error: string | null;
  held: boolean;
  removed_how: string | null;
  agent: string | null;
  team: string | null;
  number: string | null;
  customer_id: number | null;
  customer: string | null;
  direction: string | null;
  outcome: string | null;
  score: number | null;
  passed: boolean | null;
  /** The caller's own 1–5 rating (survey SMS). */
  survey_score: number | null;
}

export interface QaItem {
  key: string;
  label: string;
  label_en: string;
  points: number;
}

export interface QaForm {
  id: number;
  name: string;
  title: string;
  title_en: string;
  items: QaItem[];
  pass_mark: number;
}

export interface QaScore {
  id: number;
  scorer: string | null;
  items: Record<string, number>;
  total: number;
  passed: boolean;
  comment: string;
  created_at: number;
  appeal_note: string | null;
  appeal_by: string | null;
  appeal_at: number | null;
}

export interface RecordingDetail {
  recording: { id: number; state: string; error: string | null; held: boolean; started_at: number; line: string };
  call: RecordingItem;
  download_name: string;
  scores: QaScore[];
  forms: QaForm[];
  can_score: boolean;
  can_appeal: boolean;
}
