-- A form's date field may be marked as the follow-up date (回访日期): saving
-- a work order with it set schedules a call-back for its agent that day.
ALTER TABLE work_order_form_fields ADD COLUMN follow_up INTEGER NOT NULL DEFAULT 0;
