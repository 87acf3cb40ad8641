-- Evidence: only a revocation may be added, once; nothing is deleted.
CREATE OR REPLACE FUNCTION consent_records_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'consent records are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.workspace_id, NEW.contact_id, NEW.phone_e164, NEW.consent_type, NEW.source,
        NEW.wording, NEW.method, NEW.obtained_at, NEW.attested_by, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.workspace_id, OLD.contact_id, OLD.phone_e164, OLD.consent_type, OLD.source,
        OLD.wording, OLD.method, OLD.obtained_at, OLD.attested_by, OLD.created_at) THEN
        RAISE EXCEPTION 'a consent record cannot be changed, only revoked'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.revoked_at IS NOT NULL
       AND (NEW.revoked_at, NEW.revoked_how, NEW.revoked_recorded_by)
           IS DISTINCT FROM (OLD.revoked_at, OLD.revoked_how, OLD.revoked_recorded_by) THEN
        RAISE EXCEPTION 'a revocation cannot be changed or undone'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
