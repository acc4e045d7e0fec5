-- A scoring form's title in each language (it held both in one text).
ALTER TABLE qa_forms ADD COLUMN title_en TEXT NOT NULL DEFAULT '';
UPDATE qa_forms SET title = '通话质检', title_en = 'Call quality'
 WHERE name = 'standard' AND title = '通话质检 Call quality';
